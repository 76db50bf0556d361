import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { verify } from '@node-rs/argon2';
import type { BenchContext } from './context';
import type { LoadResult, LoadSpec } from './load-generator';
import { elapsedMs, pairedRuns } from './measure';
import { row, skipped, type Row } from './report';

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

function throughputRows(name: string, goal: string, note: string, runs: { ours: LoadResult[]; reference: LoadResult[] }): Row[] {
  const notice = [...runs.ours, ...runs.reference].some((r) => r.non2xx + r.errors > 0)
    ? `; non-2xx/errors seen: ${runs.ours.map((r) => r.non2xx + r.errors).join('/')} vs ${runs.reference.map((r) => r.non2xx + r.errors).join('/')}`
    : '';
  return [
    row({ name: `${name}, throughput`, unit: 'req/s', goal, ours: runs.ours.map((r) => r.requestsPerSecond), reference: runs.reference.map((r) => r.requestsPerSecond), note: note + notice }),
    row({ name: `${name}, p99`, unit: 'ms', goal: 'report', ours: runs.ours.map((r) => r.p99Ms), reference: runs.reference.map((r) => r.p99Ms) }),
  ];
}

// Live users in id order (random with respect to insertion), split into one slice per run and
// side, so that no id of a cache-miss run was ever read before.
async function missPaths(ctx: BenchContext, prefix: string, excluded: string): Promise<string[][]> {
  const { rows } = await ctx.bare.query<{ id: string }>('SELECT id FROM users WHERE deleted_at IS NULL AND id <> $1 ORDER BY id', [excluded]);
  const slices = ctx.options.runs * 2;
  const size = Math.floor(rows.length / slices);
  return Array.from({ length: slices }, (_, i) => rows.slice(i * size, (i + 1) * size).map((r) => `${prefix}${r.id}`));
}

export async function httpUserRows(ctx: BenchContext): Promise<Row[]> {
  const missing = ['GET /users/:id', 'POST /auth/login'].filter((route) => {
    const [method, url] = route.split(' ') as ['GET' | 'POST', string];
    return !ctx.hasRoute(method, url);
  });
  if (missing.length) return [skipped('GET /users/:id', 'req/s', '>= 0.8', `n/a: route missing (${missing.join(', ')})`)];

  const token = await login(ctx, ctx.adminEmail, ctx.adminPassword);
  const headers = { authorization: `Bearer ${token}` };
  const { rows } = await ctx.bare.query<{ id: string }>('SELECT id FROM users WHERE deleted_at IS NULL AND is_active ORDER BY created_at DESC LIMIT 1');
  const hitId = rows[0].id;
  ctx.fixed.body = await getJson(ctx, `/users/${hitId}`, token);
  await getJson(ctx, '/bench/fixed', token);
  await getJson(ctx, `/bench/users/${hitId}`, token);
  const url = ctx.baseUrl;
  const connections = `${ctx.options.connections} connections, ${ctx.options.httpSeconds} s per run, autocannon in its own process`;

  const hit = await pairedRuns(
    ctx.options.runs,
    () => load(ctx, { url: `${url}/users/${hitId}`, method: 'GET', headers }),
    () => load(ctx, { url: `${url}/bench/fixed`, method: 'GET', headers }),
  );
  const ours = await missPaths(ctx, '/users/', hitId);
  const bare = await missPaths(ctx, '/bench/users/', hitId);
  const miss = await pairedRuns(
    ctx.options.runs,
    (i) => load(ctx, { url, method: 'GET', headers, paths: ours[i * 2] }),
    (i) => load(ctx, { url, method: 'GET', headers, paths: bare[i * 2 + 1] }),
  );
  return [
    ...throughputRows('GET /users/:id cache hit', '>= 0.8', `${connections}; reference: a route returning the same JSON`, hit),
    ...throughputRows('GET /users/:id cache miss', '>= 0.8', `reference: the same query on a bare pg pool inside the app; ${ours[0].length.toLocaleString('en-US')} distinct ids per run`, miss),
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
  const runs = await pairedRuns(
    ctx.options.runs,
    () => load(ctx, { url: `${ctx.baseUrl}/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    async () => ({ requestsPerSecond: await verifyLoop(ctx.hashedPassword, ctx.password, ctx.options.connections, ctx.options.httpSeconds), p50Ms: 0, p99Ms: 0, non2xx: 0, errors: 0 }),
  );
  return [
    row({
      name: 'login (argon2id)',
      unit: 'logins/s',
      goal: 'report',
      ours: runs.ours.map((r) => r.requestsPerSecond),
      reference: runs.reference.map((r) => r.requestsPerSecond),
      note: `POST /auth/login at ${ctx.options.connections} connections vs raw argon2 verify, ${ctx.options.connections} at a time`,
    }),
  ];
}
