import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer } from '../support/redis-server';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { freePort, ServiceProcess } from './service-process';

const BOOT_DEADLINE_MS = 30000;
// Well under main.ts's 25 s drain deadline: a clean stop takes about a second.
const STOP_DEADLINE_MS = 15000;
const ADMIN_EMAIL = 'ops@example.com';
const ADMIN_PASSWORD = 'a long admin password for the fault tests';

interface Answer {
  status: number;
  body: { code?: string; requestId?: string };
}

// The built service (dist/main.js) on a test database and a redis-server of the test's own.
describe('the service process with REDIS_URL (a redis-server of its own)', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let dataDir: string;
  const started: ServiceProcess[] = [];

  beforeAll(async () => {
    [database, redis] = await Promise.all([createTestDatabase(), RedisServer.start()]);
    dataDir = mkdtempSync(join(tmpdir(), 'nest-users-redis-faults-'));
  });
  afterAll(async () => {
    for (const service of started) if (service.running) service.signal('SIGKILL');
    await redis.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startService(extra: Record<string, string> = {}): Promise<{ service: ServiceProcess; base: string }> {
    const port = await freePort();
    const service = ServiceProcess.start(
      {
        DATA_DIR: dataDir,
        PORT: String(port),
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: `redis-faults-${randomBytes(4).toString('hex')}:`,
        JWT_SECRET: 'redis-faults-secret-redis-faults-secret',
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        THROTTLE_LOGIN_ADDRESS: '1000000',
        ...extra,
      },
      dataDir,
    );
    started.push(service);
    await expect(service.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    return { service, base: `http://127.0.0.1:${port}` };
  }

  async function call(base: string, method: string, path: string, token?: string, body?: object): Promise<Answer> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const json = response.headers.get('content-type')?.startsWith('application/json');
    return { status: response.status, body: json ? (JSON.parse(text) as Answer['body']) : {} };
  }

  async function login(base: string, email: string, password: string): Promise<string> {
    const answer = await call(base, 'POST', '/auth/login', undefined, { email, password });
    expect(answer.status).toBe(200);
    return (answer.body as { accessToken: string }).accessToken;
  }

  it('exits 0 on SIGTERM under load (cached reads, writes, logins), refusing late requests with the app 503 body', async () => {
    const { service, base } = await startService();
    const token = await login(base, ADMIN_EMAIL, ADMIN_PASSWORD);
    const password = 'correct horse battery staple 4711';
    const created = await call(base, 'POST', '/users', token, { email: `load-${randomBytes(4).toString('hex')}@example.com`, password });
    expect(created.status).toBe(201);
    const user = created.body as { id: string; email: string };

    // Workers keep requests in flight until the server stops answering.
    let sigterm = 0;
    const afterSigterm: Answer[] = [];
    const worker = async (step: (n: number) => Promise<Answer>) => {
      for (let n = 0; ; n++) {
        const answer = await step(n).catch(() => undefined);
        if (!answer) return;
        if (sigterm) afterSigterm.push(answer);
        if (sigterm && Date.now() - sigterm > 3000) return;
      }
    };
    const workers = [
      ...Array.from({ length: 4 }, () => worker(() => call(base, 'GET', `/users/${user.id}`, token))),
      worker((n) => call(base, 'PATCH', `/users/${user.id}`, token, { fullName: `Load ${n}` })),
      worker(() => call(base, 'GET', '/auth/me', token)),
      worker(() => call(base, 'POST', '/auth/login', undefined, { email: user.email, password })),
      worker(() => call(base, 'POST', '/auth/login', undefined, { email: user.email, password: 'wrong password, counted' })),
    ];
    await new Promise((r) => setTimeout(r, 1500));

    // A request whose headers are half sent keeps its connection busy, so it is completed (and
    // answered) while the server drains.
    const late = connect(Number(new URL(base).port), '127.0.0.1');
    await new Promise((resolve) => late.once('connect', resolve));
    let lateReply = '';
    late.on('data', (chunk: Buffer) => (lateReply += chunk.toString('utf8')));
    const lateEnded = new Promise((resolve) => late.once('close', resolve));
    late.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    await new Promise((r) => setTimeout(r, 100));

    sigterm = Date.now();
    service.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    late.write('\r\n');
    await lateEnded;
    await Promise.all(workers);
    const stopped = await service.exit(STOP_DEADLINE_MS);

    const [head, lateBody] = lateReply.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toContain('retry-after: ');
    expect(JSON.parse(lateBody)).toEqual({ statusCode: 503, code: 'SHUTTING_DOWN', message: expect.any(String), requestId: expect.any(String) });
    for (const answer of afterSigterm.filter((a) => a.status >= 500)) expect(answer.body).toMatchObject({ code: 'SHUTTING_DOWN', requestId: expect.any(String) });
    expect({ stopped, stderr: service.stderr }).toEqual({ stopped: { code: 0, signal: null }, stderr: '' });
  }, 60000);

  it('keeps counting sensitive actions in process while its Redis is down, and logs the outage as state changes', async () => {
    const own = await RedisServer.start();
    try {
      const { service, base } = await startService({ REDIS_URL: own.url, THROTTLE_SENSITIVE: 'export:3' });
      const token = await login(base, ADMIN_EMAIL, ADMIN_PASSWORD);
      const me = await call(base, 'GET', '/auth/me', token);
      const adminId = (me.body as { id: string }).id;
      await own.stop();
      const linesBefore = service.stdout.split('\n').length;

      // Two seconds of cached reads, logins and sensitive actions against the stopped Redis.
      const until = Date.now() + 2000;
      const load = async (step: () => Promise<Answer>) => {
        while (Date.now() < until) await step();
      };
      await Promise.all([
        load(() => call(base, 'GET', `/users/${adminId}`, token)),
        load(() => call(base, 'GET', '/auth/me', token)),
        load(() => call(base, 'POST', '/auth/login', undefined, { email: 'nobody@example.com', password: 'not the password' })),
      ]);
      // Lines about Redis only: at the service's LOG_LEVEL (warn), each refused login also writes
      // an 'access denied' line.
      const outageLines = service.stdout
        .split('\n')
        .slice(linesBefore - 1)
        .filter((line) => line.trim() !== '' && !line.includes('"msg":"access denied"'));
      expect(outageLines.length).toBeLessThanOrEqual(4);
      expect(outageLines.join('\n')).toMatch(/rate-limit storage unavailable/);

      const exports = [];
      for (let n = 0; n < 4; n++) exports.push(await call(base, 'GET', '/users/export', token));
      expect(exports.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(exports[3].body.code).toBe('RATE_LIMITED');

      // Back up on the same port: both clients reconnect, and say so once.
      const restarted = await RedisServer.start(own.port);
      try {
        const back = /rate-limit storage available again[\s\S]*user cache available again|user cache available again[\s\S]*rate-limit storage available again/;
        for (const since = Date.now(); !back.test(service.stdout) && Date.now() - since < 15000; ) {
          await new Promise((r) => setTimeout(r, 250));
          await call(base, 'POST', '/auth/login', undefined, { email: 'nobody@example.com', password: 'not the password' });
          await call(base, 'GET', `/users/${adminId}`, token);
        }
        expect(service.stdout).toMatch(back);
      } finally {
        await restarted.stop();
      }
      service.signal('SIGTERM');
      await expect(service.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
    } finally {
      await own.stop();
    }
  }, 60000);
});
