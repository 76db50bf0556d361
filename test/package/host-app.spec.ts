import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createTestDatabase } from '../support/test-database';

// The package as a host gets it: `npm pack`, installed into a copy of examples/host-app, which
// runs its own tests (node --test, against the tarball's dist) on an empty database per adapter.
const ROOT = resolve(__dirname, '../..');
const INSTALL_TIMEOUT_MS = 300_000;
const HOST_TESTS_TIMEOUT_MS = 180_000;

interface Run {
  code: number | null;
  output: string;
}

// A child's environment without this run's npm, database and Redis settings: npm sets npm_*
// variables for the scripts it runs, and the host app must get only what the test gives it.
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && !['DATABASE_URL', 'TEST_DATABASE_URL', 'REDIS_URL', 'NODE_OPTIONS'].includes(name)),
  );
  return { ...env, ...extra };
}

function run(command: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: childEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

// Runs a step, prints its duration, and fails with the step's whole output when it fails.
async function phase(name: string, command: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<string> {
  const started = Date.now();
  const result = await run(command, args, cwd, extra);
  process.stdout.write(`host-app: ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${result.code})\n`);
  if (result.code !== 0) throw new Error(`${name} (${command} ${args.join(' ')}) exited with ${result.code}:\n${result.output}`);
  return result.output;
}

describe('nest-users installed from npm pack into a separate host app (examples/host-app)', () => {
  let work: string;
  let app: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'nest-users-host-'));
    app = join(work, 'host-app');
    // --ignore-scripts: `npm test` built dist/ already (pretest); prepack's second build would
    // rewrite dist/ under the specs that start dist/main.js meanwhile.
    const packed = JSON.parse(await phase('npm pack', 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)) as { filename: string }[];
    const tarball = join(work, packed[0].filename);
    cpSync(join(ROOT, 'examples/host-app'), app, { recursive: true, filter: (source) => !['node_modules', 'dist'].includes(basename(source)) && !source.endsWith('.tgz') });
    await phase('npm install (tarball and the host dependencies)', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
    // tsc checks the host's code against the declarations in the tarball.
    await phase('host build (tsc)', 'npm', ['run', 'build'], app);
  }, INSTALL_TIMEOUT_MS);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shares one copy of the Nest core, common and TypeORM with the host', async () => {
    // A second copy of any of them breaks DI (other class identities for the same tokens).
    for (const name of ['@nestjs/core', '@nestjs/common', 'typeorm']) {
      const listed = await phase(`npm ls ${name}`, 'npm', ['ls', name, '--all', '--parseable'], app);
      const copies = [...new Set(listed.split('\n').filter((line) => line.includes(`node_modules/${name}`)))];
      expect({ name, copies }).toEqual({ name, copies: [join(app, 'node_modules', name)] });
    }
  });

  async function expectHostTestsToPass(adapter: 'express' | 'fastify'): Promise<void> {
    const database = await createTestDatabase({ migrated: false });
    try {
      const started = Date.now();
      // --ignore-scripts skips pretest (the build above); `npm test` itself still runs.
      const result = await run('npm', ['test', '--ignore-scripts'], app, { DATABASE_URL: database.url, HOST_ADAPTER: adapter });
      process.stdout.write(`host-app: npm test (${adapter}): ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${result.code})\n`);
      // The host's whole test output when it fails.
      expect({ exit: result.code, output: result.code === 0 ? '' : result.output }).toEqual({ exit: 0, output: '' });
    } finally {
      await database.drop();
    }
  }

  it('passes the host app tests on Fastify, on an empty database', () => expectHostTestsToPass('fastify'), HOST_TESTS_TIMEOUT_MS);

  it('passes the host app tests on Express, on an empty database', () => expectHostTestsToPass('express'), HOST_TESTS_TIMEOUT_MS);
});
