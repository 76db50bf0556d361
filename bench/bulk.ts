import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { NewUser } from '../src/users/user.model';
import type { BenchContext } from './context';
import { elapsedMs, pairedRuns } from './measure';
import { row, type Row } from './report';

const PLANS = ['free', 'pro', 'team'];

// Fresh, valid users with pre-hashed passwords; `tag` keeps every batch's emails unique.
function batch(ctx: BenchContext, tag: string): NewUser[] {
  return Array.from({ length: ctx.options.bulkRows }, (_, i) => ({
    email: `import.${tag}.${i}@bench.example.net`,
    hashedPassword: ctx.hashedPassword,
    fullName: `Imported User ${tag} ${i}`,
    isActive: i % 10 !== 0,
    roles: ['user'],
    metadata: { plan: PLANS[i % PLANS.length], source: 'import', seq: i },
  }));
}

// PostgreSQL's COPY text format: backslash, tab, newline and carriage return are escaped.
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}

function copyLine(user: NewUser): string {
  const roles = `{${user.roles!.join(',')}}`;
  const fields = [user.email, user.email.toLowerCase(), user.fullName!, user.hashedPassword!, String(user.isActive), roles, JSON.stringify(user.metadata)];
  return fields.map(copyText).join('\t') + '\n';
}

async function copyIn(ctx: BenchContext, users: NewUser[]): Promise<void> {
  const client = await ctx.bare.connect();
  try {
    const sink = client.query(copyFrom('COPY users (email, email_normalized, full_name, hashed_password, is_active, roles, metadata) FROM STDIN'));
    await pipeline(Readable.from(chunked(users)), sink);
  } finally {
    client.release();
  }
}

function* chunked(users: NewUser[]): Generator<string> {
  for (let i = 0; i < users.length; i += 1000) yield users.slice(i, i + 1000).map(copyLine).join('');
}

async function removeBatch(ctx: BenchContext, users: NewUser[]): Promise<void> {
  await ctx.bare.query('DELETE FROM users WHERE email_normalized = ANY($1::text[])', [users.map((u) => u.email.toLowerCase())]);
}

async function rowsPerSecond(ctx: BenchContext, users: NewUser[], work: (users: NewUser[]) => Promise<unknown>): Promise<number> {
  const ms = await elapsedMs(() => work(users));
  await removeBatch(ctx, users);
  return users.length / (ms / 1000);
}

async function importRow(ctx: BenchContext, name: string, ours: (users: NewUser[]) => Promise<unknown>): Promise<Row> {
  const runs = await pairedRuns(
    ctx.options.runs,
    (run) => rowsPerSecond(ctx, batch(ctx, `${name}.ours.${run}`), ours),
    (run) => rowsPerSecond(ctx, batch(ctx, `${name}.copy.${run}`), (users) => copyIn(ctx, users)),
  );
  return row({
    name: `bulk import: ${name}`,
    unit: 'rows/s',
    goal: '>= 0.8',
    ...runs,
    note: `${ctx.options.bulkRows.toLocaleString('en-US')} rows per run, pre-hashed passwords; reference COPY FROM STDIN`,
  });
}

export async function bulkCreateRows(ctx: BenchContext): Promise<Row[]> {
  return [await importRow(ctx, 'bulkCreateUsers', (users) => ctx.users.bulkCreateUsers(users))];
}

export async function importDictsRows(ctx: BenchContext): Promise<Row[]> {
  return [await importRow(ctx, 'importUsersFromDicts', (users) => ctx.users.importUsersFromDicts(users))];
}
