import type { CanActivate, InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { CacheSettings } from '../cache/cache.module';
import { TableNames, type TableNaming } from '../database/table-names';
import type { SensitiveAction, ThrottleSettings } from '../throttling/throttle.settings';

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

  constructor(settings: UsersModuleSettings, definition: UsersModuleDefinition) {
    const fail = (option: string, expected: string) => {
      throw new Error(`UsersModule: option ${option} must be ${expected}`);
    };
    if (definition.dataSource === undefined && !settings.database?.url) fail('database.url', 'set when no dataSource is given');
    if (definition.dataSource !== undefined && settings.database) fail('database', 'left out when a dataSource is given');
    if (!definition.authGuard && (settings.jwt?.secret ?? '').length < JWT_SECRET_MIN_LENGTH) {
      fail('jwt.secret', `at least ${JWT_SECRET_MIN_LENGTH} characters (or give an authGuard)`);
    }
    const adminRoles = settings.adminRoles ?? ['admin'];
    if (adminRoles.length === 0 || adminRoles.some((r) => !/^[a-z][a-z0-9_-]{0,31}$/.test(r))) fail('adminRoles', 'a non-empty list of roles ([a-z][a-z0-9_-]{0,31})');
    this.tables = { schema: settings.schema, tablePrefix: settings.tablePrefix };
    try {
      new TableNames(this.tables);
    } catch (error) {
      fail('schema/tablePrefix', `valid: ${(error as Error).message}`);
    }
    this.database = settings.database && {
      url: settings.database.url,
      poolMax: settings.database.poolMax ?? 10,
      connectTimeoutMs: settings.database.connectTimeoutMs ?? 5000,
      statementTimeoutMs: settings.database.statementTimeoutMs ?? 30000,
    };
    this.migrationsRun = settings.migrationsRun ?? definition.dataSource === undefined;
    this.adminRoles = adminRoles;
    this.jwt = settings.jwt && { secret: settings.jwt.secret, expiresInSeconds: settings.jwt.expiresInSeconds ?? 3600 };
    const redis = settings.redis && { url: settings.redis.url, keyPrefix: settings.redis.keyPrefix ?? 'nest-users:' };
    this.cache = { ttlMs: settings.cache?.ttlMs ?? 60000, maxEntries: settings.cache?.maxEntries ?? 10000, timeoutMs: settings.cache?.timeoutMs ?? 150, redis };
    const sensitive = { 'password-change': 5, anonymize: 5, export: 5, import: 5, 'bulk-delete': 5, ...settings.throttle?.sensitive };
    this.throttle = {
      windowMs: settings.throttle?.windowMs ?? 900000,
      loginAccountFailures: settings.throttle?.loginAccountFailures ?? 10,
      loginAddress: settings.throttle?.loginAddress ?? 100,
      sensitive,
      redis,
    };
    this.exportStatementTimeoutMs = settings.exportStatementTimeoutMs ?? 600000;
    this.bodyLimitBytes = settings.bodyLimitBytes ?? 10 * 1024 * 1024;
    this.bootstrapAdmin = settings.bootstrapAdmin;
  }

  // The role an administrator made by this module gets.
  get adminRole(): string {
    return this.adminRoles[0];
  }
}
