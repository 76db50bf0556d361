import { SENSITIVE_ACTIONS, type SensitiveAction } from '../throttling/throttle.settings';
import { AMQP_EXCHANGE, NATS_STREAM, NATS_SUBJECT_PREFIX } from '../users/events/events.settings';
import { resolve } from 'node:path';
import { isUserEventType, type UserEventType } from '../users/events/user-event';
import { WebhookAllowList } from '../users/events/webhooks/webhook-allow-list';
import { webhookSecretIssue } from '../users/events/webhooks/webhook-destination';
import { validateCronExpression } from 'cron';

// One typed view of the environment, parsed once at boot. Every variable is documented in
// .env.example; a bad value stops the process with a ConfigError naming the variable.
export class AppConfig {
  nodeEnv!: 'development' | 'production' | 'test';
  port!: number;
  host!: string;
  databaseUrl!: string | undefined;
  databasePoolMax!: number;
  databaseConnectTimeoutMs!: number;
  databaseStatementTimeoutMs!: number;
  exportStatementTimeoutMs!: number;
  migrationsRun!: boolean;
  dataDir!: string;
  embeddedPostgresPort!: number | undefined;
  redisUrl!: string | undefined;
  redisKeyPrefix!: string;
  cacheTtlMs!: number;
  cacheTimeoutMs!: number;
  cacheMaxEntries!: number;
  logLevel!: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  trustProxy!: boolean | number | string;
  bodyLimitBytes!: number;
  httpRequestTimeoutMs!: number;
  httpConnectionTimeoutMs!: number;
  httpKeepAliveTimeoutMs!: number;
  throttleWindowMs!: number;
  throttleLoginAccountFailures!: number;
  throttleLoginAddress!: number;
  throttleSensitive!: Record<SensitiveAction, number>;
  jwtSecret!: string | undefined;
  jwtExpiresInSeconds!: number;
  adminEmail!: string | undefined;
  adminPassword!: string | undefined;
  eventsEnabled!: boolean;
  eventsRelay!: boolean;
  eventsPollIntervalMs!: number;
  eventsMaxAttempts!: number;
  eventsBackoffMs!: number;
  eventsRetainDays!: number;
  eventsNatsUrl!: string | undefined;
  eventsNatsSubjectPrefix!: string;
  eventsNatsStream!: string;
  eventsAmqpUrl!: string | undefined;
  eventsAmqpExchange!: string;
  eventsLeaseMs!: number;
  eventsHandlerTimeoutMs!: number;
  eventsWebhookAllowedHosts!: string[];
  eventsWebhookUrl!: string | undefined;
  eventsWebhookSecret!: string | undefined;
  eventsWebhookTypes!: UserEventType[] | undefined;
  retentionWarnAfterDays!: number | undefined;
  retentionDeactivateAfterDays!: number | undefined;
  retentionAnonymizeAfterDays!: number | undefined;
  retentionSchedule!: string | undefined;
}


export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    received: string,
  ) {
    super(`Invalid environment: ${variable} must be ${expected} (got ${JSON.stringify(received)})`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return Number(raw);
}

// Unset means "no such setting" (a retention step that does not run), not a default.
function optionalInt(env: Env, name: string, min: number, max: number): number | undefined {
  return read(env, name) === undefined ? undefined : int(env, name, 0, min, max);
}

function retentionSchedule(env: Env): string | undefined {
  const raw = read(env, 'RETENTION_SCHEDULE');
  if (raw !== undefined && !validateCronExpression(raw).valid) throw new ConfigError('RETENTION_SCHEDULE', 'a cron expression of 5 or 6 fields (UTC)', raw);
  return raw;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, 'true or false', raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `one of ${allowed.join(', ')}`, raw);
  }
  return raw as T;
}

function matching(env: Env, name: string, pattern: RegExp, fallback: string, expected: string): string {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!pattern.test(raw)) throw new ConfigError(name, expected, raw);
  return raw;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `a URL (${protocols.join(' or ')})`, raw);
  }
  if (!protocols.includes(parsed.protocol) || parsed.hostname === '') {
    throw new ConfigError(name, `a URL (${protocols.join(' or ')})`, raw);
  }
  return raw;
}

// Fastify's trustProxy: false (default, trust no hop), true, a hop count, or a list of addresses.
function trustProxy(env: Env): boolean | number | string {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (/^[0-9a-fA-F.:/, ]+$/.test(raw)) return raw;
  throw new ConfigError('TRUST_PROXY', 'false, true, a hop count or a comma-separated list of addresses/CIDRs', raw);
}

function sensitiveLimits(env: Env): Record<SensitiveAction, number> {
  const limits = Object.fromEntries(SENSITIVE_ACTIONS.map((a) => [a, 5])) as Record<SensitiveAction, number>;
  const raw = read(env, 'THROTTLE_SENSITIVE');
  if (raw === undefined) return limits;
  for (const entry of raw.split(',')) {
    const match = /^\s*([a-z-]+):(\d+)\s*$/.exec(entry);
    if (!match || !(SENSITIVE_ACTIONS as readonly string[]).includes(match[1]) || Number(match[2]) < 1) {
      throw new ConfigError(
        'THROTTLE_SENSITIVE',
        `a list of action:limit with actions from ${SENSITIVE_ACTIONS.join(', ')} and limits >= 1`,
        raw,
      );
    }
    limits[match[1] as SensitiveAction] = Number(match[2]);
  }
  return limits;
}

// Namespaces every key this service writes to Redis, so that several deployments (or test runs)
// can share one server without sharing counters or cache entries.
function redisKeyPrefix(env: Env): string {
  const raw = read(env, 'REDIS_KEY_PREFIX') ?? 'nest-users:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(raw)) throw new ConfigError('REDIS_KEY_PREFIX', 'up to 64 letters, digits or :_.-', raw);
  return raw;
}

function list(env: Env, name: string): string[] | undefined {
  const raw = read(env, name);
  return raw === undefined ? undefined : raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function webhookAllowedHosts(env: Env): string[] {
  const hosts = list(env, 'EVENTS_WEBHOOK_ALLOWED_HOSTS') ?? [];
  const issue = hosts.map((host) => WebhookAllowList.entryIssue(host)).find(Boolean);
  if (issue) throw new ConfigError('EVENTS_WEBHOOK_ALLOWED_HOSTS', `a comma-separated list of host names, *.suffix patterns, IPs or CIDRs (${issue})`, env.EVENTS_WEBHOOK_ALLOWED_HOSTS ?? '');
  return hosts;
}

// The webhook the environment subscribes: URL and secret together, or neither.
function webhookSubscription(env: Env): Pick<AppConfig, 'eventsWebhookUrl' | 'eventsWebhookSecret' | 'eventsWebhookTypes'> {
  const webhookUrl = url(env, 'EVENTS_WEBHOOK_URL', ['http:', 'https:']);
  const secret = read(env, 'EVENTS_WEBHOOK_SECRET');
  const types = list(env, 'EVENTS_WEBHOOK_TYPES');
  if (webhookUrl === undefined && (secret !== undefined || types !== undefined)) throw new ConfigError('EVENTS_WEBHOOK_URL', 'set with EVENTS_WEBHOOK_SECRET and EVENTS_WEBHOOK_TYPES', '');
  // The line reaches logs: never echo the secret.
  const secretIssue = webhookUrl === undefined ? undefined : webhookSecretIssue(secret);
  if (secretIssue) throw new ConfigError('EVENTS_WEBHOOK_SECRET', `${secretIssue} when EVENTS_WEBHOOK_URL is set`, secret === undefined ? '' : `${secret.length} characters`);
  if (types !== undefined && (types.length === 0 || !types.every(isUserEventType))) {
    throw new ConfigError('EVENTS_WEBHOOK_TYPES', 'a comma-separated list of event types (user.created, user.updated, ...)', env.EVENTS_WEBHOOK_TYPES ?? '');
  }
  return { eventsWebhookUrl: webhookUrl, eventsWebhookSecret: secret, eventsWebhookTypes: types };
}

export function parseEnv(env: Env = process.env): AppConfig {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const jwtSecret = read(env, 'JWT_SECRET');
  // A short secret can be brute-forced from one token, in any mode: a development instance that
  // signs admin tokens with "secret" is as open as a production one. Unset, development and
  // tests generate a strong one (see jwt-secret.ts).
  if ((nodeEnv === 'production' && jwtSecret === undefined) || (jwtSecret !== undefined && jwtSecret.length < 32)) {
    // The line reaches logs: say how long the secret was, never what it was.
    const received = jwtSecret === undefined ? '' : `${jwtSecret.length} characters`;
    const expected = jwtSecret === undefined ? 'set to at least 32 characters when NODE_ENV=production' : 'at least 32 characters in every mode (or unset outside production)';
    throw new ConfigError('JWT_SECRET', expected, received);
  }
  const embeddedPort = read(env, 'EMBEDDED_POSTGRES_PORT');
  const eventsLeaseMs = int(env, 'EVENTS_LEASE_MS', 60000, 100, 86400000);
  // A delivery must give up before its lease ends, or another instance would deliver it meanwhile.
  const eventsHandlerTimeoutMs = int(env, 'EVENTS_HANDLER_TIMEOUT_MS', Math.min(10000, eventsLeaseMs - 1), 1, eventsLeaseMs - 1);
  return Object.assign(new AppConfig(), {
    nodeEnv,
    port: int(env, 'PORT', 3000, 1, 65535),
    host: read(env, 'HOST') ?? '0.0.0.0',
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    databaseConnectTimeoutMs: int(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600000),
    databaseStatementTimeoutMs: int(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30000, 100, 86400000),
    exportStatementTimeoutMs: int(env, 'EXPORT_STATEMENT_TIMEOUT_MS', 600000, 1000, 86400000),
    migrationsRun: bool(env, 'MIGRATIONS_RUN', true),
    dataDir: resolve(read(env, 'DATA_DIR') ?? './data'),
    embeddedPostgresPort: embeddedPort === undefined ? undefined : int(env, 'EMBEDDED_POSTGRES_PORT', 0, 1, 65535),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisKeyPrefix: redisKeyPrefix(env),
    cacheTtlMs: int(env, 'CACHE_TTL_MS', 60000, 1, 86400000),
    cacheTimeoutMs: int(env, 'CACHE_TIMEOUT_MS', 150, 1, 60000),
    cacheMaxEntries: int(env, 'CACHE_MAX_ENTRIES', 10000, 1, 10000000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    trustProxy: trustProxy(env),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    httpRequestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30000, 1000, 3600000),
    httpConnectionTimeoutMs: int(env, 'HTTP_CONNECTION_TIMEOUT_MS', 120000, 1000, 86400000),
    httpKeepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 72000, 1000, 3600000),
    throttleWindowMs: int(env, 'THROTTLE_WINDOW_MS', 900000, 1, 86400000),
    throttleLoginAccountFailures: int(env, 'THROTTLE_LOGIN_ACCOUNT_FAILURES', 10, 1, 1000000),
    throttleLoginAddress: int(env, 'THROTTLE_LOGIN_ADDRESS', 100, 1, 1000000),
    throttleSensitive: sensitiveLimits(env),
    jwtSecret,
    jwtExpiresInSeconds: int(env, 'JWT_EXPIRES_IN_SECONDS', 3600, 60, 2592000),
    adminEmail: read(env, 'ADMIN_EMAIL'),
    adminPassword: read(env, 'ADMIN_PASSWORD'),
    eventsEnabled: bool(env, 'EVENTS_ENABLED', true),
    eventsRelay: bool(env, 'EVENTS_RELAY', true),
    eventsPollIntervalMs: int(env, 'EVENTS_POLL_INTERVAL_MS', 500, 10, 3600000),
    eventsMaxAttempts: int(env, 'EVENTS_MAX_ATTEMPTS', 10, 1, 1000),
    eventsBackoffMs: int(env, 'EVENTS_BACKOFF_MS', 1000, 1, 86400000),
    eventsRetainDays: int(env, 'EVENTS_RETAIN_DAYS', 7, 1, 3650),
    eventsNatsUrl: url(env, 'EVENTS_NATS_URL', ['nats:', 'tls:']),
    eventsNatsSubjectPrefix: matching(env, 'EVENTS_NATS_SUBJECT_PREFIX', NATS_SUBJECT_PREFIX, 'users.events', 'dot-separated tokens of letters, digits, _ and - (no wildcards)'),
    eventsNatsStream: matching(env, 'EVENTS_NATS_STREAM', NATS_STREAM, 'USERS_EVENTS', 'a stream name of letters, digits, _ and -'),
    eventsAmqpUrl: url(env, 'EVENTS_AMQP_URL', ['amqp:', 'amqps:']),
    eventsAmqpExchange: matching(env, 'EVENTS_AMQP_EXCHANGE', AMQP_EXCHANGE, 'users.events', 'an exchange name of letters, digits and _.:- (not amq.*)'),
    eventsLeaseMs,
    eventsHandlerTimeoutMs,
    eventsWebhookAllowedHosts: webhookAllowedHosts(env),
    ...webhookSubscription(env),
    retentionWarnAfterDays: optionalInt(env, 'RETENTION_WARN_AFTER_DAYS', 1, 36500),
    retentionDeactivateAfterDays: optionalInt(env, 'RETENTION_DEACTIVATE_AFTER_DAYS', 1, 36500),
    retentionAnonymizeAfterDays: optionalInt(env, 'RETENTION_ANONYMIZE_AFTER_DAYS', 1, 36500),
    retentionSchedule: retentionSchedule(env),
  });
}
