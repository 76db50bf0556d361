import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/users/users-data-source';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { MODULE_INDEXES } from '../support/module-indexes';

describe('schema', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource(
      dataSourceOptions({ url: db.url, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10000, migrationsRun: false }),
    );
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('matches the entities: migration:generate would find no difference', async () => {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('has no pending migration', async () => {
    await expect(dataSource.showMigrations()).resolves.toBe(false);
  });

  it('creates the indexes every query relies on', async () => {
    const rows: { indexname: string }[] = await dataSource.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations'`);
    expect(rows.map((r) => r.indexname).sort()).toEqual(MODULE_INDEXES);
  });
});
