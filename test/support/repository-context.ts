import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config/app-config';
import { AppConfigModule } from '../../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../../src/app.module';
import type { TableNaming } from '../../src/database/table-names';
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
}

// A UsersModule on its own fresh database, wired as a sibling module would use it.
export async function createRepositoryContext(overrides: Partial<AppConfig> = {}, options: RepositoryContextOptions = {}): Promise<RepositoryContext> {
  const database = options.database ?? (await createTestDatabase());
  const config = testConfig(database.url, overrides);
  const module = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(config), appDataSource(), appUsersModule({ routes: false }, options.naming)],
  }).compile();
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
      await database.drop();
    },
  };
}
