import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

// Set by the global setup: the server the tests use and the migrated template they clone.
export const SERVER_URL_ENV = 'NEST_USERS_TEST_SERVER_URL';
export const TEMPLATE_ENV = 'NEST_USERS_TEST_TEMPLATE';

export function assertTestDatabaseName(name: string): void {
  if (!name.toLowerCase().includes('test')) {
    throw new Error(`refusing to touch database "${name}": test databases must have "test" in their name`);
  }
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const database = decodeURIComponent(new URL(serverUrl).pathname.slice(1)) || 'postgres';
  assertTestDatabaseName(database === 'postgres' ? 'test-server-admin' : database);
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

// One database per test file, cloned from the migrated template: files never share state.
// `migrated: false` gives an empty one instead, as a host's database before it runs our migrations.
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = process.env[SERVER_URL_ENV];
  const template = process.env[TEMPLATE_ENV];
  if (!serverUrl || !template) throw new Error('the Jest global setup did not run (see jest.config.js)');
  const name = `users_test_${randomBytes(6).toString('hex')}`;
  assertTestDatabaseName(name);
  await withAdminClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${options.migrated === false ? 'template0' : template}"`));
  return {
    name,
    url: databaseUrl(serverUrl, name),
    drop: () => withAdminClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
