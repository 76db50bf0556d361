import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { parseEnv, type AppConfig } from '../src/config/app-config';
import { hashPassword } from '../src/users/password';
import { UserEntity } from '../src/users/user.entity';
import { UsersRepository } from '../src/users/users.repository';
import { startBenchApp } from './bench-app';
import { bulkCreateRows, importDictsRows } from './bulk';
import type { BenchContext, BenchOptions, ReferenceRoutes } from './context';
import { openFreshDatabase, type BenchDatabase } from './database';
import { eventWriteRows, relayRows } from './events';
import { csvExportRows, jsonExportRows } from './exports';
import { httpUserRows, loginRows } from './http';
import { aggregateRows, pageRows, searchRows } from './queries';
import { describeMachine, formatTable, group, machine, writeResults, type Row } from './report';
import { seedUsers } from './seed';

const GROUPS: Record<string, (c: BenchContext) => Promise<Row[]>> = {
  search: searchRows,
  pages: pageRows,
  aggregates: aggregateRows,
  'csv-export': csvExportRows,
  'json-export': jsonExportRows,
  http: httpUserRows,
  login: loginRows,
  'bulk-create': bulkCreateRows,
  'import-dicts': importDictsRows,
  'event-writes': eventWriteRows,
  'event-relay': relayRows,
};

const USAGE = `npm run bench -- [--users N] [--runs N] [--http-seconds S] [--connections C] [--bulk-rows N] [--boilerplate-seconds S] [--only a,b] [--smoke]
  --users N               users seeded before measuring (default 200000; 1000000 takes about 4x longer)
  --runs N                runs per side of every row; each row prints their median, min and max (default 3, smoke 2)
  --http-seconds S        duration of each autocannon run (default 5)
  --connections C         autocannon connections (default 50)
  --bulk-rows N           rows per bulk-import run, at most 10000 (default 10000)
  --boilerplate-seconds S time budget of the boilerplate side of one row, all runs together
                          (default 30, smoke 1); it always gets one run, and says when it was cut short
  --smoke                 tiny N and short runs, to check that the bench works (CI)
  --only a,b              only these groups of rows (${Object.keys(GROUPS).join(', ')}), e.g. to profile one
                          with node --cpu-prof dist-bench/bench/run.js --only http
Uses DATABASE_URL when set (creates and drops a users_bench_<random> database on that server),
otherwise a throwaway embedded PostgreSQL. REDIS_URL, when set, puts the user cache in Redis.
A full run (no --smoke, no --only) also writes bench/results/published/users-<N>.json, from which
npm run bench:readme regenerates the README's tables.`;

function parseOptions(argv: string[]): BenchOptions {
  const smoke = argv.includes('--smoke');
  const options: BenchOptions = smoke
    ? { users: 2000, smoke, runs: 2, httpSeconds: 1, connections: 50, bulkRows: 500, iterations: 5, boilerplateSeconds: 1 }
    : { users: 200_000, smoke, runs: 3, httpSeconds: 5, connections: 50, bulkRows: 10_000, iterations: 20, boilerplateSeconds: 30 };
  const flags: Record<string, keyof BenchOptions> = {
    '--users': 'users',
    '--runs': 'runs',
    '--http-seconds': 'httpSeconds',
    '--connections': 'connections',
    '--bulk-rows': 'bulkRows',
    '--boilerplate-seconds': 'boilerplateSeconds',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--smoke') continue;
    if (argv[i] === '--only') {
      options.only = (argv[++i] ?? '').split(',');
      const unknown = options.only.filter((name) => !(name in GROUPS));
      if (unknown.length) throw new Error(`--only: unknown group ${unknown.join(', ')}; groups: ${Object.keys(GROUPS).join(', ')}`);
      continue;
    }
    if (argv[i] === '--help' || !(argv[i] in flags)) {
      console.log(USAGE);
      process.exit(argv[i] === '--help' ? 0 : 2);
    }
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${argv[i - 1]} needs a positive integer`);
    (options[flags[argv[i - 1]]] as number) = value;
  }
  if (options.bulkRows > 10_000) throw new Error('--bulk-rows is at most 10000 (the repository caps a bulk call there)');
  return options;
}

// The app as production configures it, with an admin to log in as and the per-address login
// limit raised so that the login row measures hashing rather than the limiter.
function benchConfig(databaseUrl: string, admin: { email: string; password: string }): AppConfig {
  const config = parseEnv({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    REDIS_URL: process.env.REDIS_URL,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    THROTTLE_LOGIN_ADDRESS: '1000000',
    // Events are written as in production; their relay would send statements of its own into the
    // captures of the calls measured (the events rows measure it on their own).
    EVENTS_RELAY: 'false',
  });
  return Object.assign(config, { databaseUrl, migrationsRun: false });
}


const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function measureAll(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [name, measure] of Object.entries(GROUPS)) {
    if (!ctx.options.only || ctx.options.only.includes(name)) rows.push(...(await group(name, () => measure(ctx), log)));
  }
  return rows;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const workDir = mkdtempSync(join(tmpdir(), 'nest-users-bench-work-'));
  let database: BenchDatabase | undefined;
  let bare: Pool | undefined;
  let app: NestFastifyApplication | undefined;
  try {
    database = await openFreshDatabase(process.env.DATABASE_URL);
    log(`database: ${database.description}`);
    bare = new Pool({ connectionString: database.url, max: 10 });
    // pool.end() resolves before its clients have closed: the server's shutdown may still reach one.
    bare.on('error', (error) => log(`bare pool: ${error.message}`));
    const password = 'bench-password-1';
    const hashedPassword = await hashPassword(password);
    const seedStart = performance.now();
    await seedUsers(bare, options.users, hashedPassword, log);
    log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    const admin = { email: 'bench-admin@bench.example.net', password: randomBytes(18).toString('base64url') };
    const config = benchConfig(database.url, admin);
    const routes: ReferenceRoutes = { fixedBody: {} };
    const server = await startBenchApp(config, routes);
    app = server.app;
    const fastify = app.getHttpAdapter().getInstance();
    const ctx: BenchContext = {
      options,
      config,
      bare,
      users: app.get(UsersRepository),
      boilerplate: app.get(DataSource).getRepository(UserEntity),
      baseUrl: server.baseUrl,
      hasRoute: (method, url) => fastify.hasRoute({ method, url }),
      routes,
      password,
      hashedPassword,
      adminEmail: admin.email,
      adminPassword: admin.password,
      workDir,
    };
    const rows = await measureAll(ctx);
    const seconds = (performance.now() - started) / 1000;
    const groups = Object.keys(GROUPS).filter((name) => !options.only || options.only.includes(name));
    const info = { users: options.users, smoke: options.smoke, runs: options.runs, groups, database: database.description, postgres: database.version, startedAt, seconds };
    console.log(`\nnest-users bench: ${options.users.toLocaleString('en-US')} users, ${database.description}, ${describeMachine(machine())}`);
    console.log(`each figure: median [min-max] of ${options.runs} runs; ratio = ours / reference; vs boilerplate = how many times better ours is (medians)\n`);
    console.log(formatTable(rows));
    const full = !options.smoke && groups.length === Object.keys(GROUPS).length;
    console.log(`\nfinished in ${seconds.toFixed(0)} s; JSON: ${writeResults(join(__dirname, '..', '..', 'bench', 'results'), info, rows, full)}`);
  } finally {
    await app?.close();
    await bare?.end();
    await database?.drop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
