import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { uniqueEmail } from '../harness/create-test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';

const CLI = join(__dirname, '../../dist/cli/admin-cli.js');
const PASSWORD = 'a long admin password';
const DEADLINE_MS = 20000;

// The built CLI as an operator runs it, on the test's database.
describe('admin:create (dist/cli/admin-cli.js)', () => {
  let database: TestDatabase;
  let app: NestFastifyApplication;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = { PATH: process.env.PATH, DATABASE_URL: database.url, JWT_SECRET: 'cli-test-secret-cli-test-secret-cli!', LOG_LEVEL: 'warn' };
    app = await createApp(testConfig(database.url));
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  const run = (args: string[], input: string) => spawnSync(process.execPath, [CLI, ...args], { env, input, encoding: 'utf8', timeout: DEADLINE_MS });
  const login = (email: string, password: string) => request(app.getHttpServer()).post('/auth/login').send({ email, password });

  it('prints its usage on --help and exits 0', () => {
    const cli = run(['--help'], '');
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
    expect(cli.stdout).toMatch(/^usage: npm run admin:create -- --email <email> \[--password <password>\]/);
    expect(cli.stdout).toContain('standard input');
  });

  it('reads the password from the first line of standard input when none is given', async () => {
    const email = uniqueEmail('admin');
    const cli = run(['--email', email], `${PASSWORD}\nnot the password\n`);
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
    expect(cli.stdout).toMatch(new RegExp(`^admin ${email} \\(.+\\): created\\n$`));
    const res = await login(email, PASSWORD).expect(200);
    await request(app.getHttpServer()).get('/users').set('authorization', `Bearer ${res.body.accessToken}`).expect(200);
  });

  it('keeps the --password form working', async () => {
    const email = uniqueEmail('admin');
    expect(run(['--email', email, '--password', PASSWORD], '').status).toBe(0);
    await login(email, PASSWORD).expect(200);
  });

  it('refuses an empty standard input or an empty first line with a clear error', () => {
    for (const input of ['', '\nsecond line\n']) {
      const cli = run(['--email', uniqueEmail('admin')], input);
      expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 1, stderr: expect.stringMatching(/^admin:create failed: no password/) });
    }
  });

  describe('on a terminal', () => {
    // `script` (util-linux) gives the CLI a pseudo-terminal; each answer is typed once its prompt shows, so
    // anything echoed would appear in the transcript.
    function typed(email: string, answers: string[]): Promise<{ status: number | null; transcript: string }> {
      const child = spawn('script', ['-qec', `${process.execPath} ${CLI} --email ${email}`, '/dev/null'], { env });
      let transcript = '';
      const prompts = ['Password: ', 'Repeat it: '];
      child.stdout.on('data', (chunk: Buffer) => {
        transcript += chunk.toString('utf8');
        while (prompts.length && transcript.includes(prompts[0])) {
          prompts.shift();
          child.stdin.write(`${answers.shift()}\r`);
        }
      });
      return new Promise((resolve) => child.once('exit', (status) => resolve({ status, transcript })));
    }

    it('asks twice without echo and creates the admin', async () => {
      const email = uniqueEmail('admin');
      const { status, transcript } = await typed(email, [PASSWORD, PASSWORD]);
      expect({ status, transcript }).toEqual({ status: 0, transcript: expect.stringContaining(`admin ${email} (`) });
      expect(transcript).not.toContain(PASSWORD);
      await login(email, PASSWORD).expect(200);
    });

    it('refuses two different answers', async () => {
      const email = uniqueEmail('admin');
      const { status, transcript } = await typed(email, [PASSWORD, 'another long password']);
      expect({ status, transcript }).toEqual({ status: 1, transcript: expect.stringContaining('admin:create failed: the passwords do not match') });
      expect(transcript).not.toContain(PASSWORD);
      await login(email, PASSWORD).expect(401);
    });
  });
});
