import { randomBytes } from 'node:crypto';
import { startServiceOn, type ServiceProcess } from '../foundation/service-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// The built server at the most verbose log level, through login, create, password changes,
// updates, export and a failed login: no log line may carry a hash, a password or a token.
describe('logs of a running server', () => {
  let db: TestDatabase;
  let server: ServiceProcess;
  let port: number;
  const adminPassword = `admin-${randomBytes(8).toString('hex')}`;
  const userPassword = `user-${randomBytes(8).toString('hex')}`;
  const newPassword = `new-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ server, port } = await startServiceOn(db.url, { logLevel: 'trace', adminEmail: 'root@example.com', adminPassword }));
  });

  afterAll(async () => {
    server.signal('SIGTERM');
    await server.exit(15000);
    await db.drop();
  });

  it('never contain a password hash, a password or a bearer token', async () => {
    const base = `http://127.0.0.1:${port}`;
    const json = (body: unknown, token?: string) => ({
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const login = await fetch(`${base}/auth/login`, { method: 'POST', ...json({ email: 'root@example.com', password: adminPassword }) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const created = await fetch(`${base}/users`, { method: 'POST', ...json({ email: 'someone@example.com', password: userPassword }, accessToken) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await fetch(`${base}/users/${id}/password`, { method: 'PUT', ...json({ password: newPassword }, accessToken) });
    await fetch(`${base}/users/${id}`, { method: 'PATCH', ...json({ fullName: 'Some One', hashedPassword: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' }, accessToken) });
    await fetch(`${base}/auth/login`, { method: 'POST', ...json({ email: 'someone@example.com', password: userPassword }) });
    const exported = await fetch(`${base}/users/export?format=json`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await exported.text()).not.toMatch(/\$argon2/);
    await new Promise((r) => setTimeout(r, 300));

    const logs = server.stdout + server.stderr;
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).toContain('"msg":"audit"');
    for (const secret of [adminPassword, userPassword, newPassword, accessToken, '$argon2id$']) {
      expect([secret.slice(0, 12), logs.includes(secret)]).toEqual([secret.slice(0, 12), false]);
    }
  });
});
