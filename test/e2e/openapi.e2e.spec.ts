import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createTestApp, type TestApp } from '../harness/create-test-app';

const run = promisify(execFile);
const bin = (name: string): string => resolve(__dirname, '../../node_modules/.bin', name);

interface RedoclyProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}

// Issue 11 item 10: the served document passes Redocly's recommended rules and types a client that compiles.
describe('the OpenAPI document (e2e)', () => {
  let t: TestApp;
  let dir: string;
  let documentFile: string;

  beforeAll(async () => {
    t = await createTestApp();
    dir = await mkdtemp(join(tmpdir(), 'openapi-'));
    documentFile = join(dir, 'openapi.json');
    const res = await t.http.get('/docs-json').expect(200);
    await writeFile(documentFile, JSON.stringify(res.body, null, 2));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await t.close();
  });

  it('passes redocly lint with no error', async () => {
    // The CLI exits 1 on errors; the JSON report on stdout is what we judge either way.
    // Telemetry off: the CLI otherwise probes and posts to Redocly's servers on every run.
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' };
    const { stdout } = await run(bin('redocly'), ['lint', documentFile, '--format=json'], { cwd: resolve(__dirname, '../..'), env }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    const { problems } = JSON.parse(stdout) as { problems: RedoclyProblem[] };
    const describe = (p: RedoclyProblem): string => `${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`;
    const warnings = problems.filter((p) => p.severity === 'warn');
    if (warnings.length > 0) console.log(`redocly lint: ${warnings.length} warning(s)\n${warnings.map(describe).join('\n')}`);
    expect(problems.filter((p) => p.severity === 'error').map(describe)).toEqual([]);
  });

  it('generates typed client types that a small client compiles against', async () => {
    await run(bin('openapi-typescript'), [documentFile, '--output', join(dir, 'api.d.ts')]);
    await writeFile(
      join(dir, 'client.ts'),
      `import type { components, paths } from './api';

type User = components['schemas']['UserResponseDto'];
type ErrorBody = components['schemas']['ErrorResponseDto'];
type CreateBody = paths['/users']['post']['requestBody']['content']['application/json'];
type ImportReport = paths['/users/import']['post']['responses'][201]['content']['application/json'];
type NotFound = paths['/users/{id}']['get']['responses'][404]['content']['application/json'];

// Any HTTP library fits behind this; the types come from the document.
export type Send = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

export async function createUser(send: Send, body: CreateBody): Promise<User> {
  const res = await send('POST', '/users', body);
  if (res.status !== 201) throw new Error(describeError(res.body as ErrorBody));
  return res.body as User;
}

export function describeUser(user: User): string {
  const created: string = user.createdAt;
  return \`\${user.email} since \${created}\`;
}

export function describeError(error: ErrorBody | NotFound): string {
  return \`\${error.statusCode} \${error.code} \${error.requestId}: \${error.message}\`;
}

export function describeImport(report: ImportReport): number {
  return report.count + report.users.length;
}

// The types are the document's, not any.
export function mistakes(user: User): ErrorBody['code'] {
  // @ts-expect-error an email is a string
  const length: number = user.email;
  // @ts-expect-error codes come from the error table
  return length > 0 ? 'NO_SUCH_CODE' : 'USER_NOT_FOUND';
}
`,
    );
    // No @types and no DOM: tsc checks just these two files (in well under the time the DOM's types take).
    const compilerOptions = { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', lib: ['es2022'], types: [] };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['client.ts'] }));
    const compiled = await run(bin('tsc'), ['-p', dir]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(compiled).toBe('');
  });
});
