import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PgCluster } from '../support/pg-cluster';
import { freePort, ServiceProcess } from './service-process';

const BOOT_DEADLINE_MS = 30000;
const ADMIN = { email: 'faults-admin@example.com', password: 'a long admin password' };

async function onCluster<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Concurrent clients that keep reading, writing and logging in until stopped. Any status is
// accepted while the database fails: what the test checks is that the process lives through it.
class Load {
  private stopped = false;
  private readonly workers: Promise<void>[];
  requests = 0;

  constructor(
    private readonly base: string,
    private readonly token: string,
    concurrency: number,
  ) {
    this.workers = Array.from({ length: concurrency }, (_, worker) => this.run(worker));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  private async run(worker: number): Promise<void> {
    const auth = { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' };
    for (let i = 0; !this.stopped; i++) {
      const call = [
        () => fetch(`${this.base}/users?limit=5`, { headers: auth }),
        () =>
          fetch(`${this.base}/users`, {
            method: 'POST',
            headers: auth,
            body: JSON.stringify({ email: `load-${worker}-${i}-${Date.now()}@example.com`, password: 'Plenty-of-entropy-8x!k2' }),
          }),
        () => fetch(`${this.base}/auth/login`, { method: 'POST', headers: auth, body: JSON.stringify(ADMIN) }),
        () => fetch(`${this.base}/users/count`, { headers: auth }),
        () => fetch(`${this.base}/health`),
      ][(worker + i) % 5];
      await call().then(
        (res) => res.arrayBuffer(),
        () => sleep(20),
      );
      this.requests++;
    }
  }
}

describe('the service process when PostgreSQL fails under load', () => {
  let cluster: PgCluster;
  let service: ServiceProcess | undefined;
  let cwd: string;

  beforeAll(async () => {
    cluster = await PgCluster.start();
    await onCluster(cluster.url(), (c) => c.query('CREATE DATABASE users_test'));
    cwd = mkdtempSync(join(tmpdir(), 'nest-users-faults-'));
  });

  afterAll(async () => {
    if (service?.running) service.signal('SIGKILL');
    await cluster?.destroy();
    rmSync(cwd, { recursive: true, force: true });
  });

  async function startService(env: Record<string, string> = {}): Promise<{ base: string; token: string }> {
    if (service?.running) service.signal('SIGKILL');
    const port = await freePort();
    service = ServiceProcess.start(
      {
        DATABASE_URL: cluster.url('users_test'),
        PORT: String(port),
        HOST: '127.0.0.1',
        JWT_SECRET: 'faults-secret-faults-secret-faults-secret',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        DATABASE_POOL_MAX: '4',
        ...env,
      },
      cwd,
    );
    await expect(service.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    return { base, token: accessToken };
  }

  // The process is alive and serves reads and writes again once the database is back.
  async function expectAliveAndServing(base: string, token: string, round: string): Promise<void> {
    expect({ round, died: service!.running ? undefined : service!.stderr.slice(-3000) }).toEqual({ round, died: undefined });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 201; attempt++) {
      if (attempt > 0) await sleep(200);
      const res = await fetch(`${base}/users`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ email: `probe-${round.replace(/\W/g, '-')}-${attempt}@example.com`, password: 'Plenty-of-entropy-8x!k2' }),
      });
      status = res.status;
    }
    expect({ round, status }).toEqual({ round, status: 201 });
  }

  it('survives repeated pg_terminate_backend rounds and server restarts under concurrent load', async () => {
    const { base, token } = await startService();
    const load = new Load(base, token, 6);
    try {
      for (let round = 0; round < 8; round++) {
        await sleep(300);
        await onCluster(cluster.url(), (c) =>
          c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nest-users' AND pid <> pg_backend_pid()`),
        );
        await sleep(300);
        await expectAliveAndServing(base, token, `terminate ${round}`);
      }
      for (let round = 0; round < 3; round++) {
        await sleep(300);
        cluster.restart();
        await sleep(300);
        await expectAliveAndServing(base, token, `restart ${round}`);
      }
    } finally {
      await load.stop();
    }
    expect(load.requests).toBeGreaterThan(50);
    await expectAliveAndServing(base, token, 'end');
  }, 120000);

  it('answers 503 within the client-side bound while PostgreSQL is frozen, then recovers on fresh connections', async () => {
    // Server-side timeout 1 s, so the client-side bound is 3 s (READ_TIMEOUT_MARGIN_MS above it).
    const { base, token } = await startService({ DATABASE_STATEMENT_TIMEOUT_MS: '1000', DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_POOL_MAX: '2' });
    const auth = { authorization: `Bearer ${token}` };
    const count = async () => ((await (await fetch(`${base}/users/count`, { headers: auth })).json()) as { count: number }).count;
    const before = await count();
    await Promise.all([count(), count()]);

    cluster.freeze();
    try {
      for (const path of ['/users/count', '/users?limit=1', '/users/count']) {
        const started = Date.now();
        const res = await fetch(`${base}${path}`, { headers: auth, signal: AbortSignal.timeout(15000) });
        const elapsed = Date.now() - started;
        expect({ path, status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') }).toMatchObject({
          path,
          status: 503,
          body: { code: 'DATABASE_UNAVAILABLE' },
          retryAfter: '1',
        });
        // 3 s bound plus a loaded machine's slack; without a bound it lasts as long as the freeze.
        expect(elapsed).toBeLessThan(8000);
      }
    } finally {
      cluster.thaw();
    }

    // Every answer is the one its own statement asked for: no connection that timed out (whose
    // statement's late answer was still to come) was handed out again.
    for (let i = 0; i < 6; i++) {
      const [counted, page] = await Promise.all([
        count(),
        fetch(`${base}/users?limit=1`, { headers: auth }).then((res) => res.json() as Promise<{ items: unknown[]; limit: number }>),
      ]);
      expect({ i, counted, limit: page.limit, items: page.items.length }).toEqual({ i, counted: before, limit: 1, items: 1 });
    }
    expect(service!.running).toBe(true);
  }, 90000);
});
