import { DataSource, type DataSourceOptions } from 'typeorm';
import { AuditLogEntity } from '../audit/audit-log.entity';
import { FileEntity } from './file.entity';
import { UserEntity } from './user.entity';
import { PooledClient, READ_TIMEOUT_MARGIN_MS } from '../database/pooled-client';
import { runUsersMigrations, usersMigrations } from './users-migrations';
import type { UsersSettings } from './users.options';

export const ENTITIES = [UserEntity, FileEntity, AuditLogEntity];
// This app's own tables keep the default naming, and its `migrations` table the names it holds.
export const MIGRATIONS = usersMigrations();

export interface DatabaseSettings {
  url: string;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  migrationsRun: boolean;
}

// The one place that turns settings into TypeORM options: the app, the CLIs and the tests use it.
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: settings.migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    installExtensions: false,
    // Handled query failures (a 23505 turned into 409) must not be printed as errors.
    logging: false,
    extra: {
      Client: PooledClient,
      readTimeoutMs: settings.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS,
      max: settings.poolMax,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      statement_timeout: settings.statementTimeoutMs,
      idleTimeoutMillis: 30000,
      application_name: 'nest-users',
    },
  };
}

// The pool UsersModule opens when the host gives it no data source (the `database` option).
export async function openUsersDataSource(settings: UsersSettings): Promise<DataSource> {
  const database = settings.database!;
  if (settings.migrationsRun) await migrateOnce(database, settings);
  const dataSource = new DataSource({ ...dataSourceOptions({ ...database, migrationsRun: false }), entities: [], migrations: [] });
  await dataSource.initialize();
  return dataSource;
}

// Migrations run on a connection of their own, outside the pool: the pool's statement and read
// timeouts are sized for requests, while a migration (or the wait for another instance's) may
// take minutes.
async function migrateOnce(database: NonNullable<UsersSettings['database']>, settings: UsersSettings): Promise<void> {
  const migrator = new DataSource({
    type: 'postgres',
    url: database.url,
    logging: false,
    extra: { max: 1, connectionTimeoutMillis: database.connectTimeoutMs, application_name: 'nest-users-migrations' },
  });
  await migrator.initialize();
  try {
    await runUsersMigrations(migrator, settings.tables);
  } finally {
    await migrator.destroy();
  }
}
