import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { withUsersMigrationLock } from '../../src/users/users-migrations';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { until } from '../support/until';

const ROOT = join(__dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

// Issue 11 item 8: generate → build → run → show → revert, as a developer runs them. The CLI runs
// from a build of a temporary copy of src/ whose UserEntity has a new column, so that generate
// finds a difference and writes into that copy, never into this repository's src/.
describe('migration CLI', () => {
  let db: TestDatabase;
  let copy: string;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource({ type: 'postgres', url: db.url, extra: { max: 2 } });
    await dataSource.initialize();
    copy = mkdtempSync(join(tmpdir(), 'nest-users-migrations-'));
    cpSync(join(ROOT, 'src'), join(copy, 'src'), { recursive: true, filter: (path) => !path.endsWith('.spec.ts') });
    for (const file of ['tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(copy, file));
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const entity = join(copy, 'src', 'users', 'user.entity.ts');
    writeFileSync(
      entity,
      readFileSync(entity, 'utf8').replace(
        /\n\s*@Column\(\{ name: 'email_normalized'/,
        `\n  @Index()\n  @Column({ type: 'text', nullable: true })\n  locale!: string | null;\n$&`,
      ),
    );
    await build();
  }, 120000);

  afterAll(async () => {
    rmSync(copy, { recursive: true, force: true });
    await dataSource.destroy();
    await db.drop();
  });

  function build(): Promise<unknown> {
    return promisify(execFile)(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'build.tsbuildinfo'], { cwd: copy });
  }

  function cli(...args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(copy, 'dist', 'cli', 'migration-cli.js'), ...args],
        { cwd: copy, env: { PATH: process.env.PATH, DATABASE_URL: db.url } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, out: stdout + stderr }),
      );
    });
  }

  async function waitingForTheLock(): Promise<number> {
    const [{ count }] = await dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
    );
    return count;
  }

  async function schema(): Promise<{ columns: string[]; indexes: string[]; recorded: string[] }> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const column = await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'locale'`);
      const index = await client.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexdef LIKE '%(locale)'`);
      const recorded = await client.query<{ name: string }>(`SELECT name FROM migrations WHERE name LIKE 'AddLocale%'`);
      return { columns: column.rows.map((r) => r.column_name), indexes: index.rows.map((r) => r.indexdef), recorded: recorded.rows.map((r) => r.name) };
    } finally {
      await client.end();
    }
  }

  it('generates a registered migration that builds, runs, shows and reverts', async () => {
    await expect(cli('generate', 'add-locale')).resolves.toMatchObject({ code: 1, out: expect.stringContaining('registered AddLocale') });
    const [file] = readdirSync(join(copy, 'src', 'users', 'migrations')).filter((f) => f.endsWith('-add-locale.ts'));
    const timestamp = file.slice(0, 13);
    const source = readFileSync(join(copy, 'src', 'users', 'migrations', file), 'utf8');
    expect(source).toContain(`export class AddLocale${timestamp} implements MigrationInterface`);
    expect(source).toContain(`this.name = t.migrationName('AddLocale${timestamp}')`);
    expect(source).toContain('await db.query(`ALTER TABLE ${t.users} ADD "locale" text`)');
    expect(source).toMatch(/CREATE INDEX \$\{t\.object\('IDX_\w+'\)\} ON \$\{t\.users\} +\("locale"\)/);
    expect(source).toMatch(/DROP INDEX \$\{t\.qualified\('IDX_\w+'\)\}/);
    const steps = readFileSync(join(copy, 'src', 'users', 'users-migrations.ts'), 'utf8');
    expect(steps).toContain(`import { AddLocale${timestamp} } from './migrations/${timestamp}-add-locale';`);
    expect(steps).toContain(`  Dormancy1765600000000,\n  AddLocale${timestamp},\n];`);

    await build();
    await expect(cli('show')).resolves.toMatchObject({ code: 0, out: expect.stringMatching(/\[X\] Dormancy1765600000000\n\[ \] AddLocale\d{13}\n$/) });
    await expect(cli('generate', 'again')).resolves.toMatchObject({ code: 2, out: expect.stringContaining(`pending migrations: AddLocale${timestamp}; apply them first`) });
    await expect(schema()).resolves.toEqual({ columns: [], indexes: [], recorded: [] });

    await expect(cli('run')).resolves.toEqual({ code: 0, out: `applied: AddLocale${timestamp}\n` });
    await expect(schema()).resolves.toEqual({ columns: ['locale'], indexes: [expect.stringContaining('USING btree (locale)')], recorded: [`AddLocale${timestamp}`] });
    await expect(cli('show')).resolves.toMatchObject({ code: 0, out: expect.stringMatching(/\[X\] AddLocale\d{13}\n$/) });
    await expect(cli('generate', 'nothing')).resolves.toEqual({ code: 0, out: 'No changes in database schema were found\n' });

    // The revert waits for the lock runUsersMigrations holds, and reverts once it is released.
    const reverting = await withUsersMigrationLock(dataSource, {}, async () => {
      const pending = cli('revert');
      await expect(until(waitingForTheLock, (n) => n === 1)).resolves.toBe(1);
      await expect(schema()).resolves.toMatchObject({ columns: ['locale'] });
      return { pending };
    });
    await expect(reverting.pending).resolves.toEqual({ code: 0, out: `reverted: AddLocale${timestamp}\n` });
    await expect(schema()).resolves.toEqual({ columns: [], indexes: [], recorded: [] });
    await expect(cli('show')).resolves.toMatchObject({ code: 0, out: expect.stringMatching(/\[ \] AddLocale\d{13}\n$/) });
  }, 120000);

  it('refuses a name that cannot make a class name, and a bad command', async () => {
    await expect(cli('generate', '1-locale')).resolves.toMatchObject({ code: 1, out: expect.stringContaining('must start with a letter') });
    await expect(cli('generate')).resolves.toMatchObject({ code: 2, out: expect.stringContaining('usage: migration-cli run | show | revert | generate <name>') });
  });
});
