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
  const dataSource = new DataSource({ ...dataSourceOptions({ ...database, migrationsRun: false }), entities: [], migrations: [] });
  await dataSource.initialize();
  try {
    if (settings.migrationsRun) await runUsersMigrations(dataSource, settings.tables);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}
