import { randomBytes } from 'node:crypto';
import { startServiceOn, type ServiceProcess } from '../foundation/service-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

type LogLine = Record<string, unknown> & { msg?: string; req?: { id?: string; method?: string; url?: string }; res?: { statusCode?: number } };

// The built server at the default log level: one JSON line per request, and error lines that
// explain the failure, without the secrets a query string or a query's parameters can carry.
describe('request and error logs of a running server', () => {
  let db: TestDatabase;
  let server: ServiceProcess;
  let base: string;
  let token: string;
  const adminPassword = `admin-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    let port: number;
    ({ server, port } = await startServiceOn(db.url, { logLevel: 'info', adminEmail: 'root@example.com', adminPassword }));
    base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@example.com', password: adminPassword }),
    });
    token = ((await login.json()) as { accessToken: string }).accessToken;
  });

  afterAll(async () => {
    server.signal('SIGTERM');
    await server.exit(15000);
    await db.drop();
  });

  const call = async (method: string, path: string, body?: string): Promise<{ status: number; requestId: string }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body,
    });
    await res.arrayBuffer();
    return { status: res.status, requestId: String(res.headers.get('x-request-id')) };
  };

  // The lines written so far, once the server had time to flush them.
  const logLines = async (): Promise<LogLine[]> => {
    await new Promise((r) => setTimeout(r, 300));
    return server.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  };

  it('writes one line per request with its id, method, path, status and duration, never query values', async () => {
    const secretEmail = `private-${randomBytes(6).toString('hex')}@example.com`;
    const calls = [
      await call('GET', `/users/email-availability?email=${encodeURIComponent(secretEmail)}`),
      await call('GET', `/users/search?q=${secretEmail.slice(0, 14)}&limit=5`),
      await call('GET', '/users/count'),
      await call('GET', '/nowhere?token=secret-token-value'),
      await call('POST', '/users', JSON.stringify({ email: 'not-an-email' })),
    ];
    expect(calls.map((c) => c.status)).toEqual([200, 200, 200, 404, 400]);
    const lines = await logLines();
    for (const { requestId, status } of calls) {
      const completed = lines.filter((l) => l.req?.id === requestId && typeof l.responseTime === 'number');
      expect(completed).toHaveLength(1);
      expect(completed[0]).toMatchObject({ level: 30, res: { statusCode: status }, req: { id: requestId, method: expect.any(String) } });
    }
    const ofSearch = lines.find((l) => l.req?.id === calls[1].requestId && typeof l.responseTime === 'number');
    expect(ofSearch?.req?.url).toMatch(/^\/users\/search\b/);
    const text = server.stdout;
    for (const secret of [secretEmail, encodeURIComponent(secretEmail), secretEmail.slice(0, 14), 'secret-token-value']) {
      expect([secret, text.includes(secret)]).toEqual([secret, false]);
    }
  });

  it('logs an error with its type, message, code and stack, and without its query parameters', async () => {
    const created = await fetch(`${base}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `err-${randomBytes(4).toString('hex')}@example.com`, password: 'long enough pw' }),
    });
    const { id } = (await created.json()) as { id: string };
    const marker = `m${randomBytes(6).toString('hex')}`;
    // A lone surrogate is valid JSON but not valid jsonb: PostgreSQL refuses the statement.
    const { status, requestId } = await call('PATCH', `/users/${id}`, `{"metadata":{"k":"\\ud800","marker":"${marker}"}}`);
    expect(status).toBe(400);
    const lines = await logLines();
    const errorLine = lines.find((l) => l.requestId === requestId && typeof l.err === 'object');
    expect(errorLine?.err).toMatchObject({
      type: 'QueryFailedError',
      message: expect.stringMatching(/json|unicode/i),
      code: expect.stringMatching(/^22/),
      stack: expect.stringContaining('QueryFailedError'),
    });
    expect(JSON.stringify(errorLine)).not.toContain(marker);
    expect(server.stdout).not.toContain('[object Object]');
  });
});
