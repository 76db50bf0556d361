import type { CanActivate, InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { CacheSettings } from '../cache/cache.module';
import { TableNames, type TableNaming } from '../database/table-names';
import { passwordIssue } from './password';
import { AMQP_EXCHANGE, NATS_STREAM, NATS_SUBJECT_PREFIX, type AmqpSettings, type EventsSettings, type NatsSettings, type WebhooksSettings } from './events/events.settings';
import { isUserEventType, USER_EVENT_TYPES } from './events/user-event';
import { WebhookAllowList } from './events/webhooks/webhook-allow-list';
import { webhookSecretIssue } from './events/webhooks/webhook-destination';
import { validateCronExpression } from 'cron';
import { DEFAULT_RETENTION_BATCH_SIZE, DEFAULT_RETENTION_SCHEDULE, MAX_INACTIVE_DAYS, type RetentionSettings } from './retention/retention.settings';
import { SENSITIVE_ACTIONS, type SensitiveAction, type ThrottleSettings } from '../throttling/throttle.settings';

// What UsersModule is wired from at definition time (they decide which providers and routes
// exist): given to forRoot together with the rest, and beside useFactory to forRootAsync.
export interface UsersModuleDefinition {
  // The host's TypeORM data source: its name in TypeOrmModule.forRoot({ name }) ('default' for the
  // unnamed one), or the instance. Leave it out to let the module own a pool (`database`).
  dataSource?: string | DataSource;
  // Where the REST routes are mounted: `{ prefix: 'admin' }` serves /admin/users and /admin/auth;
  // `false` mounts none (repository only). Default: /users and /auth.
  routes?: false | { prefix?: string };
  // The host's own authentication for the module's routes, instead of this module's JWT. It must
  // set `request.user = { id, roles }` (id: a user of this module) or throw/return false.
  authGuard?: Type<CanActivate>;
  // Export UsersRepository and UsersService to every module of the host.
  isGlobal?: boolean;
}

// What can be computed at runtime (from ConfigService and the like).
export interface UsersModuleSettings {
  // The module's own pool, when no `dataSource` is given.
  database?: { url: string; poolMax?: number; connectTimeoutMs?: number; statementTimeoutMs?: number };
  // Apply the module's pending migrations at startup. Default: true on the module's own pool,
  // false on the host's data source (run them with runUsersMigrations or your own migrations).
  migrationsRun?: boolean;
  // Where the tables live: a PostgreSQL schema and/or a prefix for every table, index and
  // function name (see "Tables, schema and migrations" in the README).
  schema?: string;
  tablePrefix?: string;
  // Holders of any of these roles may use the admin routes (default ['admin']); the guardrails
  // keep at least one active holder.
  adminRoles?: string[];
  // This module's JWT authentication (required unless `authGuard` is given).
  jwt?: { secret: string; expiresInSeconds?: number };
  // Shared cache and rate-limit counters for several instances; in-process when absent.
  redis?: { url: string; keyPrefix?: string };
  cache?: { ttlMs?: number; maxEntries?: number; timeoutMs?: number };
  throttle?: { windowMs?: number; loginAccountFailures?: number; loginAddress?: number; sensitive?: Partial<Record<SensitiveAction, number>> };
  // Statement timeout of a streamed export.
  exportStatementTimeoutMs?: number;
  // The largest body of the bulk and import routes (others take less; see "Express or Fastify").
  bodyLimitBytes?: number;
  // An administrator made sure of at startup (created, or given the first admin role).
  bootstrapAdmin?: { email: string; password: string };
  // User lifecycle events (README "Events"): written to the outbox with every change unless
  // `enabled: false`; delivered by this instance's relay unless `relay: false`.
  events?: {
    enabled?: boolean;
    relay?: boolean;
    pollIntervalMs?: number;
    batchSize?: number;
    maxAttempts?: number;
    backoffMs?: number;
    maxBackoffMs?: number;
    leaseMs?: number;
    handlerTimeoutMs?: number;
    retainDays?: number;
    // Also publish every event to NATS JetStream and/or RabbitMQ (README "Brokers").
    nats?: { url: string; subjectPrefix?: string; stream?: string; createStream?: boolean };
    amqp?: { url: string; exchange?: string };
    // Webhook targets must match allowedHosts (host names, *.suffix patterns, IPs, CIDRs);
    // url + secret (whsec_...) define one subscription, `webhook:env`, for `types` (all if left out).
    webhooks?: { allowedHosts?: string[]; url?: string; secret?: string; types?: string[] };
  };
  // The retention policy for dormant users (README "Dormant accounts and retention"): warn
  // (event user.dormant), deactivate, anonymize after so many days without a login; each step
  // optional, in that order when several are set. No step: no scheduled job. `schedule` is a cron
  // expression in UTC (default hourly); `batchSize` users per transaction (default 500).
  retention?: {
    warnAfterDays?: number;
    deactivateAfterDays?: number;
    anonymizeAfterDays?: number;
    schedule?: string;
    batchSize?: number;
    // Dormancy is read from last_login_at, which this module's own login keeps. With an authGuard
    // or routes: false that login does not run: a policy that deactivates or anonymizes is then
    // refused unless your app records its logins (UsersRepository.updateLastLogin) and says so here.
    loginsRecordedByHost?: boolean;
  };
}

export type UsersModuleOptions = UsersModuleDefinition & UsersModuleSettings;

export interface UsersModuleAsyncOptions extends UsersModuleDefinition {
  imports?: ModuleMetadata['imports'];
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (...args: never[]) => UsersModuleSettings | Promise<UsersModuleSettings>;
}

export const JWT_SECRET_MIN_LENGTH = 32;

// The settings with every default filled in, checked once at startup.
export class UsersSettings {
  readonly tables: TableNaming;
  readonly database?: { url: string; poolMax: number; connectTimeoutMs: number; statementTimeoutMs: number };
  readonly migrationsRun: boolean;
  readonly adminRoles: string[];
  readonly jwt?: { secret: string; expiresInSeconds: number };
  readonly cache: CacheSettings;
  readonly throttle: ThrottleSettings;
  readonly exportStatementTimeoutMs: number;
  readonly bodyLimitBytes: number;
  readonly bootstrapAdmin?: { email: string; password: string };
  readonly events: EventsSettings;
  readonly retention: RetentionSettings;

  constructor(settings: UsersModuleSettings, definition: UsersModuleDefinition) {
    if (typeof settings !== 'object' || settings === null) fail('(the options)', 'an object');
    if (definition.dataSource === undefined && !nonBlank(settings.database?.url)) fail('database.url', 'set when no dataSource is given');
    if (definition.dataSource !== undefined && settings.database) fail('database', 'left out when a dataSource is given');
    const secret: unknown = settings.jwt?.secret;
    // Needed by the routes' own authentication; a repository-only instance may leave it out.
    const jwtNeeded = !definition.authGuard && definition.routes !== false;
    if ((jwtNeeded || secret !== undefined) && (typeof secret !== 'string' || secret.trim().length < JWT_SECRET_MIN_LENGTH)) {
      fail('jwt.secret', `a string of at least ${JWT_SECRET_MIN_LENGTH} characters, not blank (or give an authGuard)`);
    }
    const adminRoles: unknown = settings.adminRoles ?? ['admin'];
    if (!Array.isArray(adminRoles) || adminRoles.length === 0 || adminRoles.some((r) => typeof r !== 'string' || !ROLE.test(r))) {
      fail('adminRoles', 'a non-empty array of roles ([a-z][a-z0-9_-]{0,31})');
    }
    this.tables = { schema: settings.schema, tablePrefix: settings.tablePrefix };
    try {
      new TableNames(this.tables);
    } catch (error) {
      fail('schema/tablePrefix', `valid: ${(error as Error).message}`);
    }
    const database = settings.database;
    this.database = database && {
      url: database.url,
      poolMax: count('database.poolMax', database.poolMax, 10),
      connectTimeoutMs: count('database.connectTimeoutMs', database.connectTimeoutMs, 5000),
      statementTimeoutMs: count('database.statementTimeoutMs', database.statementTimeoutMs, 30000),
    };
    this.migrationsRun = settings.migrationsRun ?? definition.dataSource === undefined;
    this.adminRoles = adminRoles as string[];
    this.jwt = settings.jwt && { secret: settings.jwt.secret, expiresInSeconds: count('jwt.expiresInSeconds', settings.jwt.expiresInSeconds, 3600) };
    if (settings.redis && !nonBlank(settings.redis.url)) fail('redis.url', 'a redis:// or rediss:// URL');
    // Instances on other tables (another schema or prefix) keep their keys apart on a shared Redis.
    const naming = [settings.schema, settings.tablePrefix].filter(Boolean).join('.');
    const redis = settings.redis && { url: settings.redis.url, keyPrefix: settings.redis.keyPrefix ?? `nest-users:${naming ? `${naming}:` : ''}` };
    const cache = settings.cache ?? {};
    this.cache = {
      ttlMs: count('cache.ttlMs', cache.ttlMs, 60000),
      maxEntries: count('cache.maxEntries', cache.maxEntries, 10000),
      timeoutMs: count('cache.timeoutMs', cache.timeoutMs, 150),
      redis,
    };
    const throttle = settings.throttle ?? {};
    const sensitive = Object.fromEntries(SENSITIVE_ACTIONS.map((action) => [action, count(`throttle.sensitive.${action}`, throttle.sensitive?.[action], 5)]));
    this.throttle = {
      windowMs: count('throttle.windowMs', throttle.windowMs, 900000),
      loginAccountFailures: count('throttle.loginAccountFailures', throttle.loginAccountFailures, 10),
      loginAddress: count('throttle.loginAddress', throttle.loginAddress, 100),
      sensitive: sensitive as Record<SensitiveAction, number>,
      redis,
    };
    this.exportStatementTimeoutMs = count('exportStatementTimeoutMs', settings.exportStatementTimeoutMs, 600000);
    this.bodyLimitBytes = count('bodyLimitBytes', settings.bodyLimitBytes, 10 * 1024 * 1024);
    const admin = settings.bootstrapAdmin;
    if (admin !== undefined && (!nonBlank(admin?.email) || typeof admin.password !== 'string')) fail('bootstrapAdmin', '{ email, password } strings');
    // Checked before anything opens: a password the policy refuses would fail the start later.
    const weak = admin && passwordIssue(admin.password, 'bootstrapAdmin.password', undefined, { email: admin.email });
    if (weak) fail('bootstrapAdmin.password', `a password the policy accepts (it ${weak.reason})`);
    this.bootstrapAdmin = admin;
    const events = settings.events ?? {};
    for (const flag of ['enabled', 'relay'] as const) {
      if (events[flag] !== undefined && typeof events[flag] !== 'boolean') fail(`events.${flag}`, 'a boolean');
    }
    this.events = {
      enabled: events.enabled ?? true,
      relay: events.relay ?? true,
      pollIntervalMs: count('events.pollIntervalMs', events.pollIntervalMs, 500),
      batchSize: count('events.batchSize', events.batchSize, 200),
      maxAttempts: count('events.maxAttempts', events.maxAttempts, 10),
      backoffMs: count('events.backoffMs', events.backoffMs, 1000),
      maxBackoffMs: count('events.maxBackoffMs', events.maxBackoffMs, 3600000),
      leaseMs: count('events.leaseMs', events.leaseMs, 60000),
      handlerTimeoutMs: count('events.handlerTimeoutMs', events.handlerTimeoutMs, 10000),
      retainDays: count('events.retainDays', events.retainDays, 7),
      nats: events.nats === undefined ? null : natsSettings(events.nats),
      amqp: events.amqp === undefined ? null : amqpSettings(events.amqp),
      webhooks: webhooksSettings(events.webhooks ?? {}),
    };
    if (this.events.handlerTimeoutMs >= this.events.leaseMs) fail('events.handlerTimeoutMs', `less than events.leaseMs (${this.events.leaseMs})`);
    this.retention = retentionSettings(settings.retention ?? {});
    const acts = this.retention.deactivateAfterDays != null || this.retention.anonymizeAfterDays != null;
    const ownLogin = !definition.authGuard && definition.routes !== false;
    if (acts && !ownLogin && settings.retention?.loginsRecordedByHost !== true) {
      fail(
        'retention',
        'without deactivateAfterDays and anonymizeAfterDays, or with loginsRecordedByHost: true: with an authGuard or routes: false the module\'s login does not run, so last_login_at only moves if your app calls UsersRepository.updateLastLogin, and every account would look dormant',
      );
    }
  }

  // The role an administrator made by this module gets.
  get adminRole(): string {
    return this.adminRoles[0];
  }
}

function webhooksSettings(webhooks: NonNullable<NonNullable<UsersModuleSettings['events']>['webhooks']>): WebhooksSettings {
  const allowedHosts: unknown = webhooks.allowedHosts ?? [];
  if (!Array.isArray(allowedHosts) || allowedHosts.some((h) => typeof h !== 'string')) fail('events.webhooks.allowedHosts', 'an array of host names, *.suffix patterns, IPs or CIDRs');
  const issue = (allowedHosts as string[]).map((h) => WebhookAllowList.entryIssue(h)).find(Boolean);
  if (issue) fail('events.webhooks.allowedHosts', `host names, *.suffix patterns, IPs or CIDRs (${issue})`);
  const { url, secret, types } = webhooks;
  if (url === undefined && secret === undefined && types === undefined) return { allowedHosts: allowedHosts as string[] };
  if (typeof url !== 'string') fail('events.webhooks.url', 'set with events.webhooks.secret');
  const urlIssue = new WebhookAllowList(allowedHosts as string[]).urlIssue(url);
  if (urlIssue) fail('events.webhooks.url', `a URL the allow-list accepts: ${urlIssue}`);
  const secretIssue = webhookSecretIssue(secret);
  if (secretIssue) fail('events.webhooks.secret', secretIssue);
  if (types !== undefined && (!Array.isArray(types) || types.length === 0 || !types.every(isUserEventType))) fail('events.webhooks.types', `a non-empty array of event types (${USER_EVENT_TYPES.join(', ')})`);
  return { allowedHosts: allowedHosts as string[], env: { url, secret: secret as string, types: types ? [...new Set(types)] : null } };
}

const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

function natsSettings(nats: NonNullable<NonNullable<UsersModuleSettings['events']>['nats']>): NatsSettings {
  if (!brokerUrl(nats?.url, ['nats:', 'tls:'])) fail('events.nats.url', 'a nats:// or tls:// URL');
  const { subjectPrefix = 'users.events', stream = 'USERS_EVENTS', createStream = true } = nats;
  if (typeof subjectPrefix !== 'string' || !NATS_SUBJECT_PREFIX.test(subjectPrefix)) fail('events.nats.subjectPrefix', 'dot-separated tokens of letters, digits, _ and - (no wildcards)');
  if (typeof stream !== 'string' || !NATS_STREAM.test(stream)) fail('events.nats.stream', 'a stream name of letters, digits, _ and -');
  if (typeof createStream !== 'boolean') fail('events.nats.createStream', 'a boolean');
  return { url: nats.url, subjectPrefix, stream, createStream };
}

function amqpSettings(amqp: NonNullable<NonNullable<UsersModuleSettings['events']>['amqp']>): AmqpSettings {
  if (!brokerUrl(amqp?.url, ['amqp:', 'amqps:'])) fail('events.amqp.url', 'an amqp:// or amqps:// URL');
  const { exchange = 'users.events' } = amqp;
  if (typeof exchange !== 'string' || !AMQP_EXCHANGE.test(exchange)) fail('events.amqp.exchange', 'an exchange name of letters, digits and _.:- (not amq.*)');
  return { url: amqp.url, exchange };
}

function brokerUrl(value: unknown, protocols: string[]): value is string {
  if (!nonBlank(value) || !URL.canParse(value)) return false;
  const url = new URL(value);
  return protocols.includes(url.protocol) && url.hostname !== '';
}

function fail(option: string, expected: string): never {
  throw new Error(`UsersModule: option ${option} must be ${expected}`);
}

function nonBlank(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function retentionSettings(retention: NonNullable<UsersModuleSettings['retention']>): RetentionSettings {
  const days = (step: 'warnAfterDays' | 'deactivateAfterDays' | 'anonymizeAfterDays'): number | null => {
    const value = retention[step];
    if (value === undefined) return null;
    const checked = count(`retention.${step}`, value, 0);
    if (checked > MAX_INACTIVE_DAYS) fail(`retention.${step}`, `at most ${MAX_INACTIVE_DAYS}`);
    return checked;
  };
  const schedule = retention.schedule ?? DEFAULT_RETENTION_SCHEDULE;
  if (typeof schedule !== 'string' || !validateCronExpression(schedule).valid) fail('retention.schedule', 'a cron expression (5 or 6 fields)');
  const result: RetentionSettings = {
    warnAfterDays: days('warnAfterDays'),
    deactivateAfterDays: days('deactivateAfterDays'),
    anonymizeAfterDays: days('anonymizeAfterDays'),
    schedule,
    batchSize: count('retention.batchSize', retention.batchSize, DEFAULT_RETENTION_BATCH_SIZE),
  };
  // A later step that comes no later than an earlier one would skip it (or its notice).
  const set = (['warnAfterDays', 'deactivateAfterDays', 'anonymizeAfterDays'] as const).filter((step) => result[step] !== null);
  for (let i = 1; i < set.length; i++) {
    if (result[set[i]]! <= result[set[i - 1]]!) fail(`retention.${set[i]}`, `greater than retention.${set[i - 1]} (${result[set[i - 1]]})`);
  }
  return result;
}

// A positive whole number, or the default when left out. NaN (Number() of an unset variable),
// zero and negatives would silently lift a limit: they are refused.
function count(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(option, `a whole number >= 1 (got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? typeof value)})`);
  return value;
}
