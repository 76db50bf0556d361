import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/users/users-data-source';
import { EmbeddedPostgres } from '../src/database/embedded-postgres';

export interface BenchDatabase {
  url: string;
  // What the table's header says about the server.
  description: string;
  // The server's version, e.g. 15.18.
  version: string;
  drop(): Promise<void>;
}

// A database nobody else uses: a throwaway embedded server by default, or a fresh
// `users_bench_<random>` database on the DATABASE_URL server, dropped at the end.
export async function openFreshDatabase(serverUrl: string | undefined): Promise<BenchDatabase> {
  const database = serverUrl ? await createOnServer(serverUrl) : await startEmbedded();
  await migrate(database.url);
  return database;
}

async function startEmbedded(): Promise<BenchDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nest-users-bench-'));
  const server = await EmbeddedPostgres.start({ dataDir, database: 'users_bench' });
  const version = await serverVersion(server.url);
  return {
    url: server.url,
    description: `embedded PostgreSQL ${version}`,
    version,
    drop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function createOnServer(serverUrl: string): Promise<BenchDatabase> {
  const name = `users_bench_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const version = await serverVersion(url.toString());
  return {
    url: url.toString(),
    description: `PostgreSQL ${version} at ${url.hostname}:${url.port || 5432} (database ${name})`,
    version,
    drop: () => withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

// The product's migrations, run the way the migration CLI runs them.
async function migrate(url: string): Promise<void> {
  const dataSource = new DataSource(dataSourceOptions({ url, poolMax: 1, connectTimeoutMs: 10000, statementTimeoutMs: 600000, migrationsRun: false }));
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

async function serverVersion(url: string): Promise<string> {
  const { rows } = await withClient(url, (c) => c.query<{ server_version: string }>('SHOW server_version'));
  return rows[0].server_version.split(' ')[0];
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
