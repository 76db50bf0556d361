import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { verify } from '@node-rs/argon2';
import type { BenchContext } from './context';
import type { LoadResult, LoadSpec } from './load-generator';
import { elapsedMs, rotatedRuns, type Sides } from './measure';
import { row, skipped, type Row } from './report';
import { captureReviewed } from './reviewed-sql';

const run = promisify(execFile);

async function load(ctx: BenchContext, spec: Omit<LoadSpec, 'connections' | 'seconds'>): Promise<LoadResult> {
  const file = join(ctx.workDir, `load-${process.hrtime.bigint()}.json`);
  writeFileSync(file, JSON.stringify({ connections: ctx.options.connections, seconds: ctx.options.httpSeconds, ...spec }));
  const { stdout } = await run(process.execPath, [join(__dirname, 'load-generator.js'), file], { maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout) as LoadResult;
  if (result.requestsPerSecond === 0) throw new Error(`${spec.method} ${spec.paths?.[0] ?? spec.url}: no 2xx response (${result.non2xx} non-2xx, ${result.errors} errors)`);
  return result;
}

async function login(ctx: BenchContext, email: string, password: string): Promise<string> {
  const response = await fetch(`${ctx.baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (response.status !== 200) throw new Error(`POST /auth/login answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

async function getJson(ctx: BenchContext, path: string, token: string): Promise<object> {
  const response = await fetch(`${ctx.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as object;
}

function throughputRows(name: string, goal: string, note: string, runs: Sides<LoadResult>): Row[] {
  const failures = (results: LoadResult[]) => results.map((r) => r.non2xx + r.errors).join('/');
  const notice = [...runs.ours, ...runs.reference, ...runs.boilerplate].some((r) => r.non2xx + r.errors > 0)
    ? `; non-2xx/errors seen: ${failures(runs.ours)} vs ${failures(runs.reference)} vs boilerplate ${failures(runs.boilerplate)}`
    : '';
  const side = (pick: (r: LoadResult) => number) => ({
    ours: runs.ours.map(pick),
    reference: runs.reference.map(pick),
    boilerplate: runs.boilerplate.map(pick),
    boilerplateNote: runs.boilerplateNote,
  });
  return [
    row({ name: `${name}, throughput`, unit: 'req/s', goal, ...side((r) => r.requestsPerSecond), note: note + notice }),
    row({ name: `${name}, p99`, unit: 'ms', goal: 'report', ...side((r) => r.p99Ms) }),
  ];
}

// Live users in id order (random with respect to insertion), split into one slice per run and
// side, so that no id of a cache-miss run was ever read before.
async function missPaths(ctx: BenchContext, excluded: string): Promise<string[][]> {
  const { rows } = await ctx.bare.query<{ id: string }>('SELECT id FROM users WHERE deleted_at IS NULL AND id <> $1 ORDER BY id', [excluded]);
  const slices = ctx.options.runs * 3;
  const size = Math.floor(rows.length / slices);
  return Array.from({ length: slices }, (_, i) => rows.slice(i * size, (i + 1) * size).map((r) => r.id));
}

// The by-id statement a cache miss of getUserById sends (the statement that carries the id),
// checked against the SQL snapshot, for the bare reference route.
async function captureUserById(ctx: BenchContext, id: string): Promise<void> {
  const statements = await captureReviewed('getUserById (cache miss)', () => ctx.users.getUserById(id), { warm: false });
  const statement = statements.find((s) => s.values.includes(id));
  if (!statement) throw new Error('getUserById (cache miss) sent no statement with the id');
  ctx.routes.userById = { statement, id };
}

export async function httpUserRows(ctx: BenchContext): Promise<Row[]> {
  const missing = ['GET /users/:id', 'POST /auth/login'].filter((route) => {
    const [method, url] = route.split(' ') as ['GET' | 'POST', string];
    return !ctx.hasRoute(method, url);
  });
  if (missing.length) return [skipped('GET /users/:id', 'req/s', '>= 0.9', `n/a: route missing (${missing.join(', ')})`)];

  const token = await login(ctx, ctx.adminEmail, ctx.adminPassword);
  const headers = { authorization: `Bearer ${token}` };
  const { rows } = await ctx.bare.query<{ id: string }>('SELECT id FROM users WHERE deleted_at IS NULL AND is_active ORDER BY created_at DESC LIMIT 1');
  const hitId = rows[0].id;
  // Nothing read this user yet: the capture sees a cache miss.
  await captureUserById(ctx, hitId);
  ctx.routes.fixedBody = await getJson(ctx, `/users/${hitId}`, token);
  await getJson(ctx, '/bench/fixed', token);
  await getJson(ctx, `/bench/users/${hitId}`, token);
  await getJson(ctx, `/bench/boilerplate/users/${hitId}`, token);
  const url = ctx.baseUrl;
  const budgetSeconds = ctx.options.boilerplateSeconds;
  const connections = `${ctx.options.connections} connections, ${ctx.options.httpSeconds} s per run, autocannon in its own process`;

  const hit = await rotatedRuns(
    ctx.options.runs,
    () => load(ctx, { url: `${url}/users/${hitId}`, method: 'GET', headers }),
    () => load(ctx, { url: `${url}/bench/fixed`, method: 'GET', headers }),
    { run: () => load(ctx, { url: `${url}/bench/boilerplate/users/${hitId}`, method: 'GET', headers }), budgetSeconds },
  );
  const ids = await missPaths(ctx, hitId);
  const paths = (prefix: string, slice: string[]) => slice.map((id) => `${prefix}${id}`);
  const miss = await rotatedRuns(
    ctx.options.runs,
    (i) => load(ctx, { url, method: 'GET', headers, paths: paths('/users/', ids[i * 3]) }),
    (i) => load(ctx, { url, method: 'GET', headers, paths: paths('/bench/users/', ids[i * 3 + 1]) }),
    { run: (i) => load(ctx, { url, method: 'GET', headers, paths: paths('/bench/boilerplate/users/', ids[i * 3 + 2]) }), budgetSeconds },
  );
  return [
    ...throughputRows('GET /users/:id cache hit', '>= 0.9', `${connections}; reference: a route returning the same JSON; boilerplate: findOneBy, no cache`, hit),
    ...throughputRows(
      'GET /users/:id cache miss',
      '>= 0.85',
      `reference: the repository's by-id statement on a bare pg pool inside the app; ${ids[0].length.toLocaleString('en-US')} distinct ids per run`,
      miss,
    ),
  ];
}

// argon2 verifications of the seeded hash, `concurrency` at a time, for `seconds`.
async function verifyLoop(hash: string, password: string, concurrency: number, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      if (!(await verify(hash, password))) throw new Error('the seeded hash does not verify');
      done++;
    }
  };
  const ms = await elapsedMs(() => Promise.all(Array.from({ length: concurrency }, worker)));
  return done / (ms / 1000);
}

export async function loginRows(ctx: BenchContext): Promise<Row[]> {
  if (!ctx.hasRoute('POST', '/auth/login')) return [skipped('login', 'logins/s', 'report', 'n/a: route missing (POST /auth/login)')];
  const { rows } = await ctx.bare.query<{ email: string }>('SELECT email FROM users WHERE deleted_at IS NULL AND is_active ORDER BY created_at LIMIT 1');
  const body = JSON.stringify({ email: rows[0].email, password: ctx.password });
  await login(ctx, rows[0].email, ctx.password);
  const post = (path: string) => load(ctx, { url: `${ctx.baseUrl}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const runs = await rotatedRuns(
    ctx.options.runs,
    () => post('/auth/login'),
    async () => ({ requestsPerSecond: await verifyLoop(ctx.hashedPassword, ctx.password, ctx.options.connections, ctx.options.httpSeconds), p50Ms: 0, p99Ms: 0, non2xx: 0, errors: 0 }),
    { run: () => post('/bench/boilerplate/login'), budgetSeconds: ctx.options.boilerplateSeconds },
  );
  return [
    row({
      name: 'login (argon2id)',
      unit: 'logins/s',
      goal: 'report',
      ours: runs.ours.map((r) => r.requestsPerSecond),
      reference: runs.reference.map((r) => r.requestsPerSecond),
      boilerplate: runs.boilerplate.map((r) => r.requestsPerSecond),
      boilerplateNote: runs.boilerplateNote,
      note: `POST /auth/login at ${ctx.options.connections} connections vs raw argon2 verify, ${ctx.options.connections} at a time; boilerplate: findOneBy, verify, sign (same hash)`,
    }),
  ];
}
