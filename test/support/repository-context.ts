import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config/app-config';
import { AppConfigModule } from '../../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../../src/app.module';
import type { TableNaming } from '../../src/database/table-names';
import type { UsersModuleSettings } from '../../src/users/users.options';
import { UsersRepository } from '../../src/users/users.repository';
import { createTestDatabase, type TestDatabase } from './test-database';
import { testConfig } from './test-config';

export interface RepositoryContext {
  module: TestingModule;
  users: UsersRepository;
  dataSource: DataSource;
  database: TestDatabase;
  config: AppConfig;
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface RepositoryContextOptions {
  // The tables' naming (default: the default naming of the migrated template).
  naming?: TableNaming;
  // A database the caller prepared (and the context drops on close), instead of a fresh clone.
  database?: TestDatabase;
  // Module settings over the ones the configuration gives. The events relay is off unless
  // `settings.events` says otherwise: its statements would mix with the ones a test captures.
  settings?: Partial<UsersModuleSettings>;
  // Leave the database in place on close (another context uses it).
  keepDatabase?: boolean;
  // Runs after the providers exist and before the module's init hooks (where a sibling module
  // would subscribe to events).
  beforeInit?: (module: TestingModule) => void;
}

// A UsersModule on its own fresh database, wired as a sibling module would use it.
export async function createRepositoryContext(overrides: Partial<AppConfig> = {}, options: RepositoryContextOptions = {}): Promise<RepositoryContext> {
  const database = options.database ?? (await createTestDatabase());
  const config = testConfig(database.url, overrides);
  const module = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(config), appDataSource(), appUsersModule({ routes: false }, { events: { relay: false }, ...options.naming, ...options.settings })],
  }).compile();
  options.beforeInit?.(module);
  await module.init();
  const dataSource = module.get<DataSource>(getDataSourceToken());
  return {
    module,
    users: module.get(UsersRepository),
    dataSource,
    database,
    config,
    sql: (text, params) => dataSource.query(text, params),
    close: async () => {
      await module.close();
      if (!options.keepDatabase) await database.drop();
    },
  };
}
