import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/users/users-data-source';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { databaseUrl, SERVER_URL_ENV, TEMPLATE_ENV, withAdminClient } from '../support/test-database';

export interface TestRun {
  embedded?: EmbeddedPostgres;
  dataDir?: string;
  serverUrl: string;
  template: string;
}

// TEST_DATABASE_URL names a server to use (its database name must contain "test"); without it
// the run starts one embedded PostgreSQL in a temporary directory.
export default async function globalSetup(): Promise<void> {
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'nest-users-test-'));
    embedded = await EmbeddedPostgres.start({ dataDir, database: 'users_test_admin' });
    serverUrl = embedded.url;
  }
  const template = `users_test_template_${process.pid}`;
  await withAdminClient(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${template}"`);
  });
  const dataSource = new DataSource(
    dataSourceOptions({
      url: databaseUrl(serverUrl, template),
      poolMax: 1,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 60000,
      migrationsRun: false,
    }),
  );
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.destroy();

  process.env[SERVER_URL_ENV] = serverUrl;
  process.env.NEST_USERS_TEST_RUN = randomBytes(4).toString('hex');
  process.env[TEMPLATE_ENV] = template;
  (globalThis as { __testRun?: TestRun }).__testRun = { embedded, dataDir, serverUrl, template };
}
