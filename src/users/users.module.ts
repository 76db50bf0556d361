import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Module, type DynamicModule, type FactoryProvider, type MiddlewareConsumer, type ModuleMetadata, type NestModule, type Provider, type Type } from '@nestjs/common';
import { HttpAdapterHost, RouterModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditModule } from '../audit/audit.module';
import { CacheStoreModule, type CacheSettings } from '../cache/cache.module';
import { DatabaseModule, DbConnection } from '../database/database.module';
import { TableNames } from '../database/table-names';
import { configureExpressRoutes } from '../http/express-routes';
import { configureFastifyRoutes } from '../http/fastify-routes';
import type { ThrottleSettings } from '../throttling/throttle.settings';
import { ThrottlingModule } from '../throttling/throttling.module';
import { AccessTokens } from './auth/access-tokens.service';
import { AdminBootstrap } from './auth/admin-bootstrap.service';
import { AuthController } from './auth/auth.controller';
import { AuthService } from './auth/auth.service';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { LoginAttemptGuard } from './auth/login-attempt.guard';
import { LoginLimiter } from './auth/login-limiter.service';
import { RolesGuard } from './auth/roles.guard';
import { AUTHENTICATION, UsersAuthGuard } from './auth/users-auth.guard';
import { UsersBulkController } from './controllers/users-bulk.controller';
import { UsersQueryController } from './controllers/users-query.controller';
import { USERS_ROUTES_OWNER } from './controllers/users-routes.decorator';
import { UsersController } from './controllers/users.controller';
import { InsertMany } from './repository/insert-many';
import { UserBulk } from './repository/user-bulk';
import { UserPrivacy } from './repository/user-privacy';
import { UserReads } from './repository/user-reads';
import { UserStore } from './repository/user-store';
import { UserTransfer } from './repository/user-transfer';
import { UserWrites } from './repository/user-writes';
import { UserCache } from './user-cache.service';
import { Outbox } from './events/outbox';
import { OutboxRelay } from './events/outbox-relay';
import { UsersEvents } from './events/users-events.service';
import { EventDeliveries } from './events/event-deliveries.service';
import { BrokerDestinations } from './events/broker-destinations';
import { WebhookStore } from './events/webhooks/webhook-store';
import { WebhookSubscriptions } from './events/webhooks/webhook-subscriptions.service';
import { WebhooksController } from './controllers/webhooks.controller';
import { UserRetention } from './repository/user-retention';
import { RetentionController } from './retention/retention.controller';
import { RetentionPolicy } from './retention/retention-policy.service';
import { RetentionScheduler } from './retention/retention-scheduler';
import { openUsersDataSource } from './users-data-source';
import { runUsersMigrations } from './users-migrations';
import { UsersSettings, type UsersModuleAsyncOptions, type UsersModuleDefinition, type UsersModuleOptions, type UsersModuleSettings } from './users.options';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

// The options as given (forRoot's object, or what forRootAsync's factory returned); UsersSettings
// holds them checked and completed.
export const USERS_MODULE_OPTIONS = Symbol('USERS_MODULE_OPTIONS');
const USERS_ROUTES = Symbol('USERS_ROUTES');
const USERS_INSTANCE = Symbol('USERS_INSTANCE');
// The HTTP servers an instance already mounts its routes on.
const routedServers = new WeakSet<object>();

// The controllers this instance mounts, and under which path.
interface MountedRoutes {
  controllers: Type[];
  prefix: string;
}

// The users data layer as a dynamic module, for this app and for any NestJS host:
// - UsersRepository (and UsersService, the admin policy) for the host's own modules;
// - the REST routes (/users, and /auth with this module's JWT), unless `routes: false`, each
//   carrying its own authentication, role check, rate limits, validation, audit and error body,
//   so nothing depends on what the host registers globally;
// - on the host's TypeORM data source, or on a pool of its own.
@Module({})
export class UsersModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly settings: UsersSettings,
    @Inject(USERS_ROUTES) private readonly routes: MountedRoutes,
  ) {}

  // The routes' body limits, JSON bounds, text/csv imports and error body, on whichever adapter
  // the host runs (README "Express or Fastify"). Nest calls this before it registers the routes.
  configure(consumer: MiddlewareConsumer): void {
    if (this.routes.controllers.length === 0) return;
    // The body limits of the routes are keyed by their controller classes, which every instance
    // shares: one routed instance per app (others can be repository-only, on other databases).
    const server = this.adapterHost.httpAdapter?.getInstance<object>();
    if (server) {
      if (routedServers.has(server)) throw new Error('UsersModule: only one instance per app may mount routes; give the others routes: false');
      routedServers.add(server);
    }
    configureExpressRoutes(consumer, this.adapterHost, this.routes.controllers, this.settings.bodyLimitBytes, this.routes.prefix);
    configureFastifyRoutes(this.adapterHost, USERS_ROUTES_OWNER, this.settings.bodyLimitBytes);
  }

  static forRoot(options: UsersModuleOptions): DynamicModule {
    const { dataSource, routes, authGuard, isGlobal, ...settings } = options;
    return UsersModule.assemble({ dataSource, routes, authGuard, isGlobal }, { provide: USERS_MODULE_OPTIONS, useValue: settings });
  }

  static forRootAsync(options: UsersModuleAsyncOptions): DynamicModule {
    const { dataSource, routes, authGuard, isGlobal, imports, inject, useFactory } = options;
    return UsersModule.assemble({ dataSource, routes, authGuard, isGlobal }, { provide: USERS_MODULE_OPTIONS, inject: inject ?? [], useFactory }, imports);
  }

  private static assemble(definition: UsersModuleDefinition, options: Provider, hostImports: ModuleMetadata['imports'] = []): DynamicModule {
    // Several instances in one host (two tenants, two databases) must share nothing. Nest tells
    // dynamic modules apart by their metadata, where a factory counts by its source text: the
    // instance's id makes every internal module that imports the settings its own. And a module
    // class per instance, because RouterModule keys a route prefix by module class.
    const instance = randomUUID();
    const moduleClass = class extends UsersModule {};
    Object.defineProperty(moduleClass, 'name', { value: UsersModule.name });
    // One module holds the settings; every internal module that needs them imports it.
    const settingsModule: DynamicModule = {
      module: class UsersSettingsModule {},
      imports: hostImports,
      providers: [
        { provide: USERS_INSTANCE, useValue: instance },
        options,
        { provide: UsersSettings, inject: [USERS_MODULE_OPTIONS], useFactory: (settings: UsersModuleSettings) => new UsersSettings(settings, definition) },
      ],
      exports: [UsersSettings],
    };
    const fromSettings = <T>(pick: (settings: UsersSettings) => T) => ({ imports: [settingsModule], inject: [UsersSettings], useFactory: pick });
    const database = DatabaseModule.register(connectionSource(definition, settingsModule), `nest-users:${instance}`);
    const routed = definition.routes !== false;
    const ownAuth = definition.authGuard === undefined;
    // WebhooksController and RetentionController before UsersController: /users/webhooks and
    // /users/retention must not be taken for /users/:id.
    const controllers: Type[] = routed ? [UsersQueryController, UsersBulkController, WebhooksController, RetentionController, UsersController, ...(ownAuth ? [AuthController] : [])] : [];
    const prefix = definition.routes ? definition.routes.prefix?.replace(/^\/+|\/+$/g, '') : undefined;
    return {
      module: moduleClass,
      global: definition.isGlobal === true,
      imports: [
        // The host's modules, for the providers its authGuard injects.
        ...hostImports,
        settingsModule,
        database,
        AuditModule.register([database]),
        CacheStoreModule.register(fromSettings<CacheSettings>((s) => s.cache)),
        ThrottlingModule.register(fromSettings<ThrottleSettings>((s) => s.throttle)),
        ...(ownAuth ? [jwtModule(settingsModule)] : []),
        ...(prefix ? [RouterModule.register([{ path: prefix, module: moduleClass }])] : []),
      ],
      controllers,
      providers: [
        UserStore,
        UserReads,
        UserWrites,
        UserBulk,
        InsertMany,
        UserTransfer,
        UserPrivacy,
        UserCache,
        Outbox,
        OutboxRelay,
        UsersEvents,
        EventDeliveries,
        BrokerDestinations,
        WebhookStore,
        WebhookSubscriptions,
        UserRetention,
        RetentionPolicy,
        RetentionScheduler,
        UsersRepository,
        UsersService,
        AdminBootstrap,
        RolesGuard,
        UsersAuthGuard,
        { provide: USERS_ROUTES, useValue: { controllers, prefix: prefix ?? '' } satisfies MountedRoutes },
        ...(ownAuth ? [AccessTokens, AuthService, LoginLimiter, LoginAttemptGuard, JwtAuthGuard, { provide: AUTHENTICATION, useExisting: JwtAuthGuard }] : []),
        ...(definition.authGuard ? [definition.authGuard, { provide: AUTHENTICATION, useExisting: definition.authGuard }] : []),
      ],
      // The guards' dependencies too, so that a host can protect its own routes with
      // @UseGuards(UsersAuthGuard, RolesGuard).
      exports: [UsersRepository, UsersService, UsersEvents, EventDeliveries, RetentionPolicy, settingsModule, AUTHENTICATION, ...(ownAuth ? [AccessTokens] : [])],
    };
  }
}

// The data source Db runs on: the host's (by name or instance), or one the module opens.
function connectionSource(definition: UsersModuleDefinition, settingsModule: DynamicModule): FactoryProvider<DbConnection> & { imports: ModuleMetadata['imports'] } {
  const given = definition.dataSource;
  if (given instanceof DataSource) {
    return { provide: DbConnection, imports: [settingsModule], inject: [UsersSettings], useFactory: (s: UsersSettings) => hostConnection(given, s) };
  }
  if (typeof given === 'string') {
    return {
      provide: DbConnection,
      imports: [settingsModule],
      inject: [UsersSettings, getDataSourceToken(given)],
      useFactory: (s: UsersSettings, dataSource: DataSource) => hostConnection(dataSource, s),
    };
  }
  return {
    provide: DbConnection,
    imports: [settingsModule],
    inject: [UsersSettings],
    useFactory: async (s: UsersSettings) => new DbConnection(await openUsersDataSource(s), true, new TableNames(s.tables)),
  };
}

async function hostConnection(dataSource: DataSource, settings: UsersSettings): Promise<DbConnection> {
  if (dataSource.options.type !== 'postgres') throw new Error(`UsersModule needs a PostgreSQL data source (got ${dataSource.options.type})`);
  if (!dataSource.isInitialized) await dataSource.initialize();
  const tables = new TableNames(settings.tables);
  if (settings.migrationsRun) await runUsersMigrations(dataSource, settings.tables);
  else await assertMigrated(dataSource, tables);
  return new DbConnection(dataSource, false, tables);
}

// Without migrationsRun the tables must be there already: say so at startup, not at the first query.
async function assertMigrated(dataSource: DataSource, tables: TableNames): Promise<void> {
  const [{ found }] = await dataSource.query<{ found: boolean }[]>(`SELECT to_regclass($1) IS NOT NULL AS found`, [tables.users]);
  if (!found) {
    throw new Error(`UsersModule: table ${tables.users} does not exist: set migrationsRun: true, or run usersMigrations()/runUsersMigrations() with your DataSource first`);
  }
}

function jwtModule(settingsModule: DynamicModule): DynamicModule {
  return JwtModule.registerAsync({
    imports: [settingsModule],
    inject: [UsersSettings],
    useFactory: (settings: UsersSettings) => {
      // A KeyObject built once: given a string, jsonwebtoken first tries to parse it as a PEM
      // public key on every verify, which cost ~30% of the CPU of an authenticated request.
      // Without a secret (a repository-only instance) a random one: nothing here verifies tokens,
      // and none it might issue can be verified anywhere.
      const key = createSecretKey(settings.jwt ? Buffer.from(settings.jwt.secret, 'utf8') : randomBytes(48));
      return {
        secretOrKeyProvider: () => key,
        signOptions: { algorithm: 'HS256', expiresIn: settings.jwt?.expiresInSeconds ?? 3600 },
        verifyOptions: { algorithms: ['HS256'] },
      };
    },
  });
}
