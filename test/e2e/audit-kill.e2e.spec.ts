import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { hashPassword } from '../../src/users/password';
import { freePort, ServiceProcess } from '../foundation/service-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The built server is killed with SIGKILL the moment the users of an import become visible to
// another connection: whatever was committed by then must carry its audit rows.
describe('audit rows of a server killed right after its commit', () => {
  const TRIES = 3;
  const USERS = 10_000;
  let db: TestDatabase;
  let observer: Client;
  let hashedPassword: string;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    observer = new Client({ connectionString: db.url });
    await observer.connect();
    hashedPassword = await hashPassword('imported password 1');
  });

  afterAll(async () => {
    for (const server of running) if (server.running) server.signal('SIGKILL');
    await observer.end();
    await db.drop();
  });

  async function startServer(adminPassword: string): Promise<{ server: ServiceProcess; base: string }> {
    const port = await freePort();
    const server = ServiceProcess.start(
      {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        JWT_SECRET: randomBytes(32).toString('hex'),
        ADMIN_EMAIL: 'root@example.com',
        ADMIN_PASSWORD: adminPassword,
      },
      process.cwd(),
    );
    running.push(server);
    const status = await server.waitForHealth(port, 20000);
    if (status !== 200) throw new Error(`the server answered /health with ${status}: ${server.stderr}`);
    return { server, base: `http://127.0.0.1:${port}` };
  }

  it(`never leaves committed users without their audit rows (${TRIES} tries)`, async () => {
    const adminPassword = `admin-${randomBytes(8).toString('hex')}`;
    const outcomes: { visible: number; audited: boolean }[] = [];
    const importRows = async (): Promise<number> => (await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'users.import'`)).rows[0].n;
    for (let attempt = 0; attempt < TRIES; attempt++) {
      const { server, base } = await startServer(adminPassword);
      const login = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'root@example.com', password: adminPassword }),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const rowsBefore = await importRows();
      const prefix = `kill${attempt}-${randomBytes(4).toString('hex')}-`;
      const users = Array.from({ length: USERS }, (_, i) => ({ email: `${prefix}${i}@example.com`, hashedPassword }));
      const answered = fetch(`${base}/users/import`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ users }),
      }).catch(() => undefined);
      const count = async (): Promise<number> =>
        (await observer.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email LIKE $1`, [`${prefix}%`])).rows[0].n;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        if ((await count()) > 0) break;
      }
      server.signal('SIGKILL');
      await server.exit(10_000);
      await answered;
      const visible = await count();
      const audited = (await importRows()) > rowsBefore;
      outcomes.push({ visible, audited });
    }
    // The users commit all at once (the import is all or nothing), with the import's audit.
    expect(outcomes).toEqual(Array(TRIES).fill({ visible: USERS, audited: true }));
  }, 180_000);
});
