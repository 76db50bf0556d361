import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { ErrorsFilter } from './errors/errors.filter';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { resolveJwtSecret } from './config/jwt-secret';
import { dataSourceOptions } from './users/users-data-source';
import type { UsersModuleDefinition, UsersModuleSettings } from './users/users.options';
import { UsersModule } from './users/users.module';

// The service: UsersModule embedded like any host would, on the app's own TypeORM data source
// (which applies the module's migrations at startup), plus logging and health. The module's
// routes carry their own guards; the filter here answers the app's other errors (404s).
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    const users = appUsersModule();
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggingModule,
        appDataSource(),
        HealthModule,
        users,
      ],
      providers: [{ provide: APP_FILTER, useClass: ErrorsFilter }],
      // For modules built on the app (the bench's reference routes use the module's guards).
      exports: [users],
    };
  }
}

// UsersModule on the app's data source, configured from the environment; the CLIs and tests use
// it with routes: false, or global for a sibling module.
export function appUsersModule(definition: Omit<UsersModuleDefinition, 'dataSource'> = {}, settings: Partial<UsersModuleSettings> = {}): DynamicModule {
  return UsersModule.forRootAsync({
    ...definition,
    dataSource: 'default',
    inject: [AppConfig],
    useFactory: (config: AppConfig) => ({ ...usersModuleSettings(config), ...settings }),
  });
}

// The app's TypeORM data source from DATABASE_* settings.
export function appDataSource(): DynamicModule {
  return TypeOrmModule.forRootAsync({
    inject: [AppConfig],
    useFactory: (config: AppConfig) => ({
      ...dataSourceOptions({
        url: config.databaseUrl!,
        poolMax: config.databasePoolMax,
        connectTimeoutMs: config.databaseConnectTimeoutMs,
        statementTimeoutMs: config.databaseStatementTimeoutMs,
        migrationsRun: config.migrationsRun,
      }),
      // Fail fast at boot instead of retrying for minutes; the orchestrator restarts us.
      retryAttempts: 0,
    }),
  });
}

// The module's settings from the environment (see the README's configuration table).
export function usersModuleSettings(config: AppConfig): UsersModuleSettings {
  const redis = config.redisUrl ? { url: config.redisUrl, keyPrefix: config.redisKeyPrefix } : undefined;
  return {
    jwt: { secret: resolveJwtSecret(config), expiresInSeconds: config.jwtExpiresInSeconds },
    redis,
    cache: { ttlMs: config.cacheTtlMs, maxEntries: config.cacheMaxEntries, timeoutMs: config.cacheTimeoutMs },
    throttle: {
      windowMs: config.throttleWindowMs,
      loginAccountFailures: config.throttleLoginAccountFailures,
      loginAddress: config.throttleLoginAddress,
      sensitive: config.throttleSensitive,
    },
    exportStatementTimeoutMs: config.exportStatementTimeoutMs,
    bodyLimitBytes: config.bodyLimitBytes,
    bootstrapAdmin: config.adminEmail && config.adminPassword ? { email: config.adminEmail, password: config.adminPassword } : undefined,
    events: {
      enabled: config.eventsEnabled,
      relay: config.eventsRelay,
      pollIntervalMs: config.eventsPollIntervalMs,
      maxAttempts: config.eventsMaxAttempts,
      backoffMs: config.eventsBackoffMs,
      retainDays: config.eventsRetainDays,
      nats: config.eventsNatsUrl ? { url: config.eventsNatsUrl, subjectPrefix: config.eventsNatsSubjectPrefix, stream: config.eventsNatsStream } : undefined,
      amqp: config.eventsAmqpUrl ? { url: config.eventsAmqpUrl, exchange: config.eventsAmqpExchange } : undefined,
      leaseMs: config.eventsLeaseMs,
      handlerTimeoutMs: config.eventsHandlerTimeoutMs,
      webhooks: {
        allowedHosts: config.eventsWebhookAllowedHosts,
        ...(config.eventsWebhookUrl ? { url: config.eventsWebhookUrl, secret: config.eventsWebhookSecret, types: config.eventsWebhookTypes } : {}),
      },
    },
    retention: {
      warnAfterDays: config.retentionWarnAfterDays,
      deactivateAfterDays: config.retentionDeactivateAfterDays,
      anonymizeAfterDays: config.retentionAnonymizeAfterDays,
      schedule: config.retentionSchedule,
    },
  };
}
