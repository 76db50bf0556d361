import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, withAdminClient } from '../support/test-database';
import { freePort, isAlive, postmasterPid, ServiceProcess } from './service-process';

const BOOT_DEADLINE_MS = 30000;
const STOP_DEADLINE_MS = 15000;

// The same environment an operator gives it, plus Redis when this run has one (so shutdown is
// proven with every connection the service can hold).
function serviceEnv(extra: Record<string, string>): Record<string, string | undefined> {
  return { REDIS_URL: process.env.REDIS_URL, ...extra };
}

async function withEmbeddedDatabase<T>(dataDir: string, port: number, work: (client: Client) => Promise<T>): Promise<T> {
  const password = readFileSync(join(dataDir, 'postgres-password'), 'utf8').trim();
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'users' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// A login whose body arrives in two parts, so the request is still in flight when the test wants.
function splitLogin(port: number): { finish(): void; status: Promise<number> } {
  const body = JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password' });
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/auth/login',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 10));
  return { finish: () => req.end(body.slice(10)), status };
}

describe('the service process (node dist/main.js)', () => {
  const dataDirs: string[] = [];
  const started: ServiceProcess[] = [];

  function newDataDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'nest-users-service-'));
    dataDirs.push(dir);
    return dir;
  }

  function start(env: Record<string, string | undefined>, cwd: string): ServiceProcess {
    const service = ServiceProcess.start(env, cwd);
    started.push(service);
    return service;
  }

  afterAll(async () => {
    for (const service of started) if (service.running) service.signal('SIGKILL');
    // A failed test may leave an embedded server behind: never let it outlive the run.
    for (const dir of dataDirs) {
      const pid = postmasterPid(dir);
      if (pid !== undefined) process.kill(pid, 'SIGINT');
      for (let waited = 0; pid !== undefined && isAlive(pid) && waited < 10000; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shares its embedded server with a CLI run beside it (admin:create), which leaves it running', async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const service = start(serviceEnv({ DATA_DIR: dataDir, PORT: String(port) }), dataDir);
    await expect(service.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    const server = postmasterPid(dataDir);

    const cli = spawnSync(process.execPath, [join(__dirname, '../../dist/cli/admin-cli.js'), '--email', 'ops@example.com', '--password', 'a long admin password'], {
      cwd: dataDir,
      env: { PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: BOOT_DEADLINE_MS,
    });
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
    expect(postmasterPid(dataDir)).toBe(server);
    const login = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: 'a long admin password' }),
    });
    expect(login.status).toBe(200);
    service.signal('SIGTERM');
    await expect(service.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
  });

  it('starts on the embedded PostgreSQL, stops it on SIGTERM and keeps its data across restarts', async () => {
    const dataDir = newDataDir();
    const [port, pgPort] = [await freePort(), await freePort()];
    const env = serviceEnv({ DATA_DIR: dataDir, PORT: String(port), EMBEDDED_POSTGRES_PORT: String(pgPort) });

    const first = start(env, dataDir);
    await expect(first.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    const firstServer = postmasterPid(dataDir);
    expect(firstServer).toBeDefined();
    await withEmbeddedDatabase(dataDir, pgPort, async (db) => {
      await db.query('CREATE TABLE restart_probe (note text)');
      await db.query(`INSERT INTO restart_probe VALUES ('kept')`);
    });

    first.signal('SIGTERM');
    await expect(first.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
    expect(isAlive(firstServer!)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = start(env, dataDir);
    await expect(second.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    await expect(withEmbeddedDatabase(dataDir, pgPort, (db) => db.query('SELECT note FROM restart_probe'))).resolves.toMatchObject({
      rows: [{ note: 'kept' }],
    });
    const migrations = await withEmbeddedDatabase(dataDir, pgPort, (db) => db.query('SELECT count(*)::int AS n FROM migrations'));
    expect(migrations.rows[0].n).toBeGreaterThan(0);

    second.signal('SIGTERM');
    await expect(second.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
    expect(postmasterPid(dataDir)).toBeUndefined();
  }, 60000);

  it('stops the server a SIGKILLed predecessor left running, then starts', async () => {
    const dataDir = newDataDir();
    const port = await freePort();
    const env = serviceEnv({ DATA_DIR: dataDir, PORT: String(port) });

    const killed = start(env, dataDir);
    await expect(killed.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    const leftover = postmasterPid(dataDir);
    killed.signal('SIGKILL');
    await expect(killed.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(leftover).toBeDefined();
    expect(isAlive(leftover!)).toBe(true);

    const next = start(env, dataDir);
    await expect(next.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
    expect(isAlive(leftover!)).toBe(false);
    expect(postmasterPid(dataDir)).not.toBe(leftover);

    next.signal('SIGTERM');
    await expect(next.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
    expect(postmasterPid(dataDir)).toBeUndefined();
  }, 60000);

  it('serves from DATABASE_URL without starting an embedded server, and drains in-flight requests on SIGTERM', async () => {
    const database = await createTestDatabase();
    const dataDir = newDataDir();
    const port = await freePort();
    try {
      const service = start(serviceEnv({ DATA_DIR: dataDir, PORT: String(port), DATABASE_URL: database.url }), dataDir);
      await expect(service.waitForHealth(port, BOOT_DEADLINE_MS)).resolves.toBe(200);
      const connections = await withAdminClient(database.url, (c) =>
        c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'nest-users'`),
      );
      expect(connections.rows[0].n).toBeGreaterThan(0);
      expect(existsSync(join(dataDir, 'postgres'))).toBe(false);

      // SIGTERM while a request is in flight: it is answered, then the process exits cleanly.
      const login = splitLogin(port);
      await new Promise((r) => setTimeout(r, 200));
      service.signal('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      expect(service.running).toBe(true);
      login.finish();
      await expect(login.status).resolves.toBe(401);
      await expect(service.exit(STOP_DEADLINE_MS)).resolves.toEqual({ code: 0, signal: null });
    } finally {
      await database.drop();
    }
  }, 60000);

  it('refuses a generated JWT secret file that others may read with one line naming it, before starting anything', async () => {
    const dataDir = newDataDir();
    writeFileSync(join(dataDir, 'jwt-secret'), 'x'.repeat(48), { mode: 0o644 });
    chmodSync(join(dataDir, 'jwt-secret'), 0o644);
    const service = start({ DATA_DIR: dataDir }, dataDir);
    const { code } = await service.exit(STOP_DEADLINE_MS);
    expect(code).toBe(1);
    expect(service.stderr.trim().split('\n')).toEqual([expect.stringContaining(join(dataDir, 'jwt-secret'))]);
    expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
  });

  it.each([
    ['PORT', 'abc'],
    ['DATABASE_URL', 'postgres//no-scheme-separator'],
    ['DATABASE_URL', 'not a url at all'],
  ])('refuses %s=%j with one line naming it and no stack trace', async (variable, value) => {
    const dataDir = newDataDir();
    const service = start({ DATA_DIR: dataDir, [variable]: value }, dataDir);
    const { code } = await service.exit(STOP_DEADLINE_MS);
    expect(code).not.toBe(0);
    const lines = service.stderr.trim().split('\n');
    expect(lines).toEqual([expect.stringContaining(variable)]);
    expect(lines[0]).toContain(JSON.stringify(value));
    expect(service.stdout).toBe('');
    expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
  });
});
