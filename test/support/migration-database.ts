import type { DataSource as DataSourceType, MigrationInterface } from 'typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/users/users-data-source';
import { createTestDatabase, type TestDatabase } from './test-database';

export interface MigrationDatabase {
  dataSource: DataSourceType;
}

// A database of the file's own (cloned from the migrated template) and a data source on it,
// opened before the file's tests and dropped after them: for the specs of one migration.
export function useMigrationDatabase(): MigrationDatabase {
  const context = {} as MigrationDatabase;
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    context.dataSource = new DataSource(dataSourceOptions({ url: db.url, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10000, migrationsRun: false }));
    await context.dataSource.initialize();
  });
  afterAll(async () => {
    await context.dataSource.destroy();
    await db.drop();
  });
  return context;
}

// Runs one step of a migration in a transaction of its own, as the migration runner does.
export async function runMigrationStep(dataSource: DataSourceType, migration: MigrationInterface, direction: 'up' | 'down'): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    await migration[direction](runner);
    await runner.commitTransaction();
  } finally {
    await runner.release();
  }
}
