import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { UserEntity } from '../src/users/user.entity';
import type { NewUser } from '../src/users/user.model';
import type { BenchContext } from './context';
import { elapsedMs, rotatedRuns } from './measure';
import { row, type Row } from './report';

const PLANS = ['free', 'pro', 'team'];
// save([...]) sends one INSERT for all its entities unless told to chunk, and 10,000 users at
// seven values each pass PostgreSQL's 65,535 bind parameters (the statement fails): the
// boilerplate has to pass save's chunk option.
const SAVE_CHUNK = 1000;

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
  try {
    const ms = await elapsedMs(() => work(users));
    return users.length / (ms / 1000);
  } finally {
    await removeBatch(ctx, users);
  }
}

// The entities the boilerplate builds from the same rows.
function entities(ctx: BenchContext, users: NewUser[]): UserEntity[] {
  return users.map((user) => ctx.boilerplate.create({ ...user, emailNormalized: user.email.toLowerCase() }));
}

// The boilerplate's import: save() of one row after the other, each its own INSERT in its own
// transaction; for at most `seconds` of a run (the rate is the rows saved by then).
async function savePerRow(ctx: BenchContext, users: NewUser[], seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let saved = 0;
  try {
    const ms = await elapsedMs(async () => {
      for (const entity of entities(ctx, users)) {
        await ctx.boilerplate.save(entity);
        saved++;
        if (performance.now() >= deadline) break;
      }
    });
    return saved / (ms / 1000);
  } finally {
    await removeBatch(ctx, users);
  }
}

async function importRow(ctx: BenchContext, name: string, ours: (users: NewUser[]) => Promise<unknown>, boilerplate: BoilerplateImport): Promise<Row> {
  const { runs, boilerplateSeconds } = ctx.options;
  const sides = await rotatedRuns(
    runs,
    (run) => rowsPerSecond(ctx, batch(ctx, `${name}.ours.${run}`), ours),
    (run) => rowsPerSecond(ctx, batch(ctx, `${name}.copy.${run}`), (users) => copyIn(ctx, users)),
    { run: (run) => boilerplate.run(batch(ctx, `${name}.boilerplate.${run}`), boilerplateSeconds / runs), budgetSeconds: boilerplateSeconds },
  );
  return row({
    name: `bulk import: ${name}`,
    unit: 'rows/s',
    goal: '>= 0.8',
    ...sides,
    note: `${ctx.options.bulkRows.toLocaleString('en-US')} rows per run, pre-hashed passwords; reference COPY FROM STDIN; boilerplate ${boilerplate.description}`,
  });
}

interface BoilerplateImport {
  description: string;
  // Rows per second over `users`, within about `seconds` when it saves row by row.
  run: (users: NewUser[], seconds: number) => Promise<number>;
}

export async function bulkCreateRows(ctx: BenchContext): Promise<Row[]> {
  const saveAll: BoilerplateImport = {
    description: `save([...]) of the batch in chunks of ${SAVE_CHUNK}`,
    run: (users) => rowsPerSecond(ctx, users, (rows) => ctx.boilerplate.save(entities(ctx, rows), { chunk: SAVE_CHUNK })),
  };
  return [await importRow(ctx, 'bulkCreateUsers', (users) => ctx.users.bulkCreateUsers(users), saveAll)];
}

export async function importDictsRows(ctx: BenchContext): Promise<Row[]> {
  const saveEach: BoilerplateImport = {
    description: 'save() per row, for a share of its time budget per run',
    run: (users, seconds) => savePerRow(ctx, users, seconds),
  };
  return [await importRow(ctx, 'importUsersFromDicts', (users) => ctx.users.importUsersFromDicts(users), saveEach)];
}
