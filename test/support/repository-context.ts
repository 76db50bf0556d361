import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config/app-config';
import { AppConfigModule } from '../../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../../src/app.module';
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

// A UsersModule on its own fresh database, wired as a sibling module would use it.
export async function createRepositoryContext(overrides: Partial<AppConfig> = {}): Promise<RepositoryContext> {
  const database = await createTestDatabase();
  const config = testConfig(database.url, overrides);
  const module = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(config), appDataSource(), appUsersModule({ routes: false })],
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
