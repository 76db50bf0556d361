import type * as argon2 from '@node-rs/argon2';
import type { Readable } from 'node:stream';
import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { hashPassword } from '../../src/users/password';
import { MAX_PLAINTEXT_PASSWORDS } from '../../src/users/user-rules';
import { EXPORT_FIELDS } from '../../src/users/repository/export-sql';
import { parseUsersCsv } from '../../src/users/users-csv';
import type { User } from '../../src/users/user.model';
import { UserAlreadyExistsError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { uniqueEmail } from '../support/user-factory';

const PASSWORD = 'correct horse battery';
const CSV_HEADER = EXPORT_FIELDS.join(',');

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function pool(ctx: RepositoryContext): Pool {
  return (ctx.dataSource.driver as PostgresDriver).master as Pool;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The stored form of every user, exact to the microsecond, for comparing two databases.
function storedUsers(ctx: RepositoryContext): Promise<Record<string, unknown>[]> {
  return ctx.sql(
    `SELECT id, email, email_normalized, full_name, is_active, roles, metadata, created_at::text AS created_at, last_login_at::text AS last_login_at
     FROM users WHERE deleted_at IS NULL ORDER BY id`,
  );
}

function validationIssues(error: unknown): { field: string; index?: number }[] {
  expect(error).toBeInstanceOf(UserValidationError);
  return (error as UserValidationError).issues.map(({ field, index }) => ({ field, index }));
}

describe('UsersRepository export', () => {
  let ctx: RepositoryContext;
  let alice: User;
  let dash: User;
  let live: User[];

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    const created = await ctx.users.bulkCreateUsers([
      { email: 'Alice@Example.com', password: PASSWORD, fullName: 'Alice Liddell', roles: ['user', 'admin'], metadata: { plan: 'pro', note: 'a,b "c"' } },
      { email: '-dash@example.com', password: PASSWORD, fullName: '=HYPERLINK("http://evil.example","x")', isActive: false },
      { email: '+plus@example.com', password: PASSWORD, fullName: "'=already guarded", metadata: { formula: '@SUM(A1)' } },
      { email: 'bob@example.com', password: PASSWORD, fullName: 'Bob, "The Builder"', roles: [] },
      { email: 'gone@example.com', password: PASSWORD, fullName: 'Gone User' },
      { email: 'noname@example.com', password: PASSWORD },
    ]);
    await ctx.users.softDeleteUser(created[4].id);
    alice = await ctx.users.updateLastLogin(created[0].id, new Date('2026-03-04T05:06:07.891Z'));
    dash = created[1];
    live = (await ctx.users.listUsersPaginated(0, 100)).items;
  });
  afterAll(() => ctx.close());

  it('writes an RFC 4180 CSV with a header, CRLF line ends and no password hash', async () => {
    const csv = await readAll(await ctx.users.exportUsersToCsv());
    expect(csv.startsWith(`${CSV_HEADER}\r\n`)).toBe(true);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.split('\r\n')).toHaveLength(live.length + 2);
    expect(csv).not.toContain('$argon2');
    const hashes = await ctx.sql<{ hashed_password: string }>(`SELECT hashed_password FROM users`);
    for (const { hashed_password } of hashes) expect(csv).not.toContain(hashed_password);
    expect(csv).toContain('"Bob, ""The Builder"""');
    expect(csv).toContain('"{""note"": ""a,b \\""c\\"""", ""plan"": ""pro""}"');
  });

  it('exports every allow-listed field, with ISO timestamps', async () => {
    const records = parseUsersCsv(await readAll(await ctx.users.exportUsersToCsv()));
    // In the table's physical order, which the export does not promise to keep.
    expect(records.map((r) => r.id).sort()).toEqual(live.map((u) => u.id).sort());
    const record = records.find((r) => r.id === alice.id)!;
    expect(Object.keys(record)).toEqual([...EXPORT_FIELDS]);
    expect(record).toMatchObject({
      email: 'Alice@Example.com',
      fullName: 'Alice Liddell',
      isActive: 'true',
      isDeleted: 'false',
      deletedAt: '',
      lastLoginAt: '2026-03-04T05:06:07.891000Z',
      version: String(alice.version),
    });
    expect(JSON.parse(record.roles)).toEqual(['user', 'admin']);
    expect(JSON.parse(record.metadata)).toEqual({ plan: 'pro', note: 'a,b "c"' });
    expect(new Date(record.createdAt)).toEqual(alice.createdAt);
    expect(records.find((r) => r.email === 'noname@example.com')?.fullName).toBe('');
  });

  it('neutralizes spreadsheet formulas and keeps the guard reversible', async () => {
    const csv = await readAll(await ctx.users.exportUsersToCsv());
    expect(csv).toContain(`"'-dash@example.com","'=HYPERLINK(""http://evil.example"",""x"")",false,`);
    expect(csv).toContain(`"'+plus@example.com","''=already guarded"`);
    expect(csv).toContain(`"{""formula"": ""@SUM(A1)""}"`);
    const records = parseUsersCsv(csv);
    expect(records.find((r) => r.id === dash.id)).toMatchObject({ email: '-dash@example.com', fullName: '=HYPERLINK("http://evil.example","x")' });
    expect(records.find((r) => r.email === '+plus@example.com')?.fullName).toBe("'=already guarded");
  });

  it('leaves soft-deleted users out unless withDeleted', async () => {
    const without = await readAll(await ctx.users.exportUsersToCsv());
    expect(without).not.toContain('gone@example.com');
    const withDeleted = parseUsersCsv(await readAll(await ctx.users.exportUsersToCsv({ withDeleted: true })));
    expect(withDeleted).toHaveLength(live.length + 1);
    const gone = withDeleted.find((r) => r.email === 'gone@example.com')!;
    expect(gone.isDeleted).toBe('true');
    expect(Number.isNaN(Date.parse(gone.deletedAt))).toBe(false);
    const json = JSON.parse(await readAll(await ctx.users.exportUsersToJson({ withDeleted: true }))) as { email: string }[];
    expect(json.map((u) => u.email)).toContain('gone@example.com');
    expect(JSON.parse(await readAll(await ctx.users.exportUsersToJson())).map((u: { email: string }) => u.email)).not.toContain('gone@example.com');
  });

  it('writes a JSON array of the users, without hashes', async () => {
    const text = await readAll(await ctx.users.exportUsersToJson());
    expect(text).not.toContain('$argon2');
    const byId = (a: { id?: unknown }, b: { id?: unknown }) => String(a.id).localeCompare(String(b.id));
    const exported = (JSON.parse(text) as Record<string, unknown>[]).sort(byId);
    const sortedLive = [...live].sort(byId);
    const expected = sortedLive.map((u) => ({
      ...u,
      deletedAt: null,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
      updatedAt: expect.any(String),
      lastLoginAt: u.lastLoginAt === null ? null : u.lastLoginAt.toISOString().replace('Z', '000Z'),
    }));
    expect(exported).toEqual(expected);
    exported.forEach((row, i) => expect(new Date(row.createdAt as string)).toEqual(sortedLive[i].createdAt));
  });

  it('returns its connection to the pool once the export is read', async () => {
    await expect(readAll(await ctx.users.exportUsersToJson())).resolves.toMatch(/^\[/);
    await eventually(async () => pool(ctx).totalCount === pool(ctx).idleCount, 'the export connection to go back to the pool');
    expect(pool(ctx).waitingCount).toBe(0);
  });
});

describe('UsersRepository export of stored text that the API would refuse', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  // The export must be safe for whatever the table holds (older data, manual fixes), not only
  // for what today's validation lets in.
  it('quotes line breaks and guards tab and carriage-return prefixes', async () => {
    const names = ['two\nlines', 'cr\r\nlf', '\tTabbed', '\r=cr', 'back\\slash', 'plain'];
    await ctx.sql(
      `INSERT INTO users (email, email_normalized, full_name, hashed_password, created_at)
       SELECT 'u' || i || '@example.com', 'u' || i || '@example.com', n, '!', now() + i * interval '1 second' FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)`,
      [names],
    );
    const csv = await readAll(await ctx.users.exportUsersToCsv());
    expect(csv).toContain('"two\nlines"');
    expect(csv).toContain('"cr\r\nlf"');
    expect(csv).toContain(`"'\tTabbed"`);
    expect(csv).toContain(`"'\r=cr"`);
    expect(csv).toContain('"back\\slash"');
    expect(parseUsersCsv(csv).map((r) => r.fullName)).toEqual(names);
    const json = JSON.parse(await readAll(await ctx.users.exportUsersToJson())) as { fullName: string }[];
    expect(json.map((u) => u.fullName)).toEqual(names);
  });
});

// The rows as the export wrote them when PostgreSQL formatted every cell itself (to_char, a
// regexp guard, json_build_object): the export must still write exactly these bytes.
const FORMER_TIMESTAMP = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const FORMER_CSV_TEXT = (value: string) => `'"' || replace(regexp_replace(${value}, '^(''*[-=+@\\t\\r])', '''\\1'), '"', '""') || '"'`;
const FORMER_CSV_ROW = `array_to_string(ARRAY[
    u.id::text, ${FORMER_CSV_TEXT('u.email')}, ${FORMER_CSV_TEXT('u.full_name')}, u.is_active::text, u.is_deleted::text,
    ${FORMER_TIMESTAMP('u.deleted_at')}, ${FORMER_CSV_TEXT('to_jsonb(u.roles)::text')}, ${FORMER_CSV_TEXT('u.metadata::text')},
    ${FORMER_TIMESTAMP('u.created_at')}, ${FORMER_TIMESTAMP('u.updated_at')}, ${FORMER_TIMESTAMP('u.last_login_at')}, u.version::text
  ], ',', '') || chr(13) || chr(10)`;
const FORMER_JSON_ROW = `json_build_object(
    'id', u.id, 'email', u.email, 'fullName', u.full_name, 'isActive', u.is_active, 'isDeleted', u.is_deleted,
    'deletedAt', ${FORMER_TIMESTAMP('u.deleted_at')}, 'roles', u.roles, 'metadata', u.metadata,
    'createdAt', ${FORMER_TIMESTAMP('u.created_at')}, 'updatedAt', ${FORMER_TIMESTAMP('u.updated_at')},
    'lastLoginAt', ${FORMER_TIMESTAMP('u.last_login_at')}, 'version', u.version
  )::text`;

describe('UsersRepository export of edge values', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    const rows: [string, string | null, string[], unknown, string, string | null, string | null][] = [
      // email, full name, roles, metadata, created_at, last_login_at, deleted_at
      ['=a@example.com', '\u0001ctl\u001f\b\f\n\r\t"\\', [], -1, '2000-01-01 00:00:00+00', '1999-12-31 23:59:59.999999+00', null],
      ["'+b@example.com", "'''-x", ['a"b', 'x,y', 'é'], '=x', '1900-02-28 12:34:56.5+00', '1970-01-01 00:00:00.000001+00', null],
      ['c"q@example.com', 'é 😀 \u007f', ['user'], { k: '\u0001 "q"', n: [1.5, null] }, '2024-02-29 23:59:59.00001+00', '0001-01-01 00:00:00+00', null],
      ['d@example.com', '', ['user', 'admin'], null, '9999-12-31 23:59:59.999999+05:30', '12345-06-07 08:09:10+00', null],
      ['e@example.com', null, ['user'], [1, '@'], '1969-07-20 20:17:40+00', 'infinity', null],
      ['@f@example.com', '@x', ['user'], {}, '2000-02-29 00:00:00+00', '-infinity', '0044-03-15 12:00:00+00 BC'],
      ['g@example.com', '\r=cr', ['user'], { a: { b: [] } }, '2100-03-01 00:00:00+00', null, '2026-01-02 03:04:05.06+00'],
    ];
    await ctx.sql(
      `INSERT INTO users (email, email_normalized, full_name, hashed_password, roles, metadata, created_at, last_login_at, deleted_at, is_deleted)
       SELECT e, lower(e), n, '!', ARRAY(SELECT jsonb_array_elements_text(r)), m, c, l, d, d IS NOT NULL
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[]) AS t(e, n, r, m, c, l, d)`,
      [0, 1, 2, 3, 4, 5, 6].map((column) => rows.map((row) => (column === 2 || column === 3 ? JSON.stringify(row[column]) : row[column]))),
    );
  });
  afterAll(() => ctx.close());

  it('writes every cell byte for byte as PostgreSQL formatted it', async () => {
    const former = await ctx.sql<{ csv: string; json: string }>(`SELECT ${FORMER_CSV_ROW} AS csv, ${FORMER_JSON_ROW} AS json FROM users u`);
    expect(former).toHaveLength(7);
    const csv = await readAll(await ctx.users.exportUsersToCsv({ withDeleted: true }));
    const json = await readAll(await ctx.users.exportUsersToJson({ withDeleted: true }));
    // Rows come in the table's order: each former row is there, and nothing else.
    for (const row of former) {
      expect(csv).toContain(row.csv);
      expect(json).toContain(row.json);
    }
    const total = (key: 'csv' | 'json') => former.reduce((sum, row) => sum + row[key].length, 0);
    expect(csv.length).toBe(`${CSV_HEADER}\r\n`.length + total('csv'));
    expect(json.length).toBe('[\n'.length + total('json') + ',\n'.length * (former.length - 1) + '\n]\n'.length);
  });
});

describe('UsersRepository export of an empty table', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  it('gives a header-only CSV and an empty JSON array', async () => {
    await expect(readAll(await ctx.users.exportUsersToCsv())).resolves.toBe(`${CSV_HEADER}\r\n`);
    const json = await readAll(await ctx.users.exportUsersToJson());
    expect(JSON.parse(json)).toEqual([]);
  });
});

describe('UsersRepository export of a large table', () => {
  const ROWS = 20000;
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    await ctx.sql(
      `INSERT INTO users (email, email_normalized, full_name, hashed_password, created_at)
       SELECT 'user' || i || '@example.com', 'user' || i || '@example.com', 'User ' || i, '!', now() - i * interval '1 second'
       FROM generate_series(1, $1::int) AS i`,
      [ROWS],
    );
  });
  afterAll(() => ctx.close());

  it('streams every row in many small chunks', async () => {
    let chunks = 0;
    let largest = 0;
    let lineEnds = 0;
    for await (const chunk of await ctx.users.exportUsersToCsv()) {
      const buffer = chunk as Buffer;
      chunks++;
      largest = Math.max(largest, buffer.length);
      for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n', at + 2)) lineEnds++;
    }
    expect(lineEnds).toBe(ROWS + 1);
    expect(chunks).toBeGreaterThan(20);
    expect(largest).toBeLessThan(1024 * 1024);
  });

  it('streams the JSON export too', async () => {
    let objects = 0;
    for await (const chunk of await ctx.users.exportUsersToJson()) {
      const text = (chunk as Buffer).toString('latin1');
      for (let at = text.indexOf('{"id"'); at >= 0; at = text.indexOf('{"id"', at + 1)) objects++;
    }
    expect(objects).toBe(ROWS);
  });

  it('gives the connection back when the consumer destroys the stream halfway', async () => {
    const stream = await ctx.users.exportUsersToCsv();
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    expect(stream.readableEnded).toBe(false);
    stream.destroy();
    await eventually(async () => pool(ctx).totalCount === pool(ctx).idleCount, 'no checked-out connection');
    await eventually(async () => {
      const copies = await ctx.sql(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY%'`);
      return copies.length === 0;
    }, 'the COPY backend to end');
    const parallel = Array.from({ length: ctx.config.databasePoolMax }, () => ctx.sql(`SELECT pg_sleep(0.05)`));
    await expect(Promise.all(parallel)).resolves.toHaveLength(ctx.config.databasePoolMax);
    await expect(ctx.users.countUsers()).resolves.toBe(ROWS);
  });
});

describe('UsersRepository import', () => {
  let ctx: RepositoryContext;
  let hashed: string;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    hashed = await hashPassword('imported password');
  });
  afterAll(() => ctx.close());

  const count = async () => Number((await ctx.sql<{ n: string }>(`SELECT count(*) AS n FROM users`))[0].n);

  it('creates users from plaintext passwords, PHC hashes or no password', async () => {
    const created = await ctx.users.importUsersFromDicts([
      { email: 'plain@import.example', password: 'a fine password', fullName: 'Plain' },
      { email: 'hashed@import.example', hashedPassword: hashed },
      { email: 'nopass@import.example', roles: ['editor'] },
    ]);
    expect(created.map((u) => u.email)).toEqual(['plain@import.example', 'hashed@import.example', 'nopass@import.example']);
    expect(created[0]).not.toHaveProperty('hashedPassword');
    const stored = await ctx.sql<{ email: string; hashed_password: string }>(
      `SELECT email, hashed_password FROM users WHERE email LIKE '%@import.example' ORDER BY email`,
    );
    expect(stored).toEqual([
      { email: 'hashed@import.example', hashed_password: hashed },
      { email: 'nopass@import.example', hashed_password: '!' },
      { email: 'plain@import.example', hashed_password: expect.stringMatching(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/) },
    ]);
    expect(created[2].roles).toEqual(['editor']);
  });

  it('splits into prepareImport, which validates and hashes, and writeImport, which only writes', async () => {
    const hash = jest.spyOn(jest.requireActual<typeof argon2>('@node-rs/argon2'), 'hash');
    try {
      const rows = [
        { email: 'first@two-steps.example', password: 'a fine password' },
        { email: 'second@two-steps.example', password: 'another fine password' },
        { email: 'third@two-steps.example', hashedPassword: hashed },
      ];
      const prepared = await ctx.users.prepareImport(rows);
      expect(hash).toHaveBeenCalledTimes(2);
      const stored = () => ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email LIKE '%@two-steps.example'`);
      await expect(stored()).resolves.toEqual([{ n: 0 }]);
      const created = await ctx.users.writeImport(prepared);
      expect(created.map((u) => u.email)).toEqual(rows.map((r) => r.email));
      expect(hash).toHaveBeenCalledTimes(2);
      await expect(stored()).resolves.toEqual([{ n: 3 }]);
    } finally {
      hash.mockRestore();
    }
  });

  it('writes nothing and lists every bad row by index', async () => {
    const before = await count();
    const error = await ctx.users
      .importUsersFromDicts([
        { email: 'ok1@bad.example' },
        { email: 'not-an-email' },
        { email: 'ok2@bad.example', passwordHash: 'x' },
        { email: 'ok3@bad.example', roles: ['Admin!'], isActive: 'maybe' },
        { email: 'ok4@bad.example', id: 'nope', createdAt: 'yesterday' },
        { email: 'ok5@bad.example', isDeleted: true },
      ])
      .catch((e: unknown) => e);
    expect(validationIssues(error)).toEqual([
      { field: 'email', index: 1 },
      { field: 'passwordHash', index: 2 },
      { field: 'isActive', index: 3 },
      { field: 'roles', index: 3 },
      { field: 'id', index: 4 },
      { field: 'createdAt', index: 4 },
      { field: 'isDeleted', index: 5 },
    ]);
    await expect(count()).resolves.toBe(before);
  });

  it('caps plaintext passwords per call', async () => {
    const rows = Array.from({ length: MAX_PLAINTEXT_PASSWORDS + 1 }, (_, i) => ({ email: `cap${i}@import.example`, password: 'a fine password' }));
    const error = await ctx.users.importUsersFromDicts(rows).catch((e: unknown) => e);
    expect(validationIssues(error)).toEqual([{ field: 'password', index: undefined }]);
    await expect(ctx.users.isEmailUnique('cap0@import.example')).resolves.toBe(true);
  });

  it('validates everything in a dry run and writes nothing', async () => {
    const before = await count();
    const preview = await ctx.users.importUsersFromDicts(
      [
        { email: 'dry@import.example', password: 'a fine password', fullName: 'Dry' },
        { email: 'dry2@import.example', id: '11111111-2222-4333-8444-555555555555', createdAt: '2020-01-02T03:04:05.123456Z' },
      ],
      { dryRun: true },
    );
    expect(preview).toMatchObject([
      { id: '', email: 'dry@import.example', fullName: 'Dry', isActive: true, roles: ['user'], isDeleted: false },
      { id: '11111111-2222-4333-8444-555555555555', email: 'dry2@import.example', createdAt: new Date('2020-01-02T03:04:05.123Z') },
    ]);
    await expect(count()).resolves.toBe(before);
    await expect(ctx.users.importUsersFromDicts([{ email: 'PLAIN@import.example' }], { dryRun: true })).rejects.toBeInstanceOf(UserAlreadyExistsError);
    await expect(ctx.users.importUsersFromDicts([{ email: 'bad' }], { dryRun: true })).rejects.toBeInstanceOf(UserValidationError);
    await expect(ctx.users.importUsersFromDicts([{ email: 'PLAIN@import.example' }, { email: 'new@dry.example' }], { dryRun: true, onConflict: 'skip' })).resolves.toMatchObject([
      { email: 'new@dry.example' },
    ]);
    await expect(count()).resolves.toBe(before);
  });

  it("onConflict 'error' reports existing users per index and writes nothing", async () => {
    const error = await ctx.users
      .importUsersFromDicts([{ email: 'fresh@conflict.example' }, { email: ' Plain@Import.Example ' }, { email: 'nopass@import.example' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserAlreadyExistsError);
    expect((error as UserAlreadyExistsError).conflicts).toEqual([
      { email: 'plain@import.example', index: 1 },
      { email: 'nopass@import.example', index: 2 },
    ]);
    await expect(ctx.users.isEmailUnique('fresh@conflict.example')).resolves.toBe(true);
  });

  it('always refuses duplicates inside the batch', async () => {
    for (const onConflict of ['error', 'skip', 'update'] as const) {
      const error = await ctx.users.importUsersFromDicts([{ email: 'twice@dup.example' }, { email: 'TWICE@dup.example' }], { onConflict }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserAlreadyExistsError);
      expect((error as UserAlreadyExistsError).conflicts).toEqual([{ email: 'twice@dup.example', index: 1 }]);
    }
    const sameId = '22222222-2222-4333-8444-555555555555';
    const error = await ctx.users.importUsersFromDicts([{ email: 'a@dup.example', id: sameId }, { email: 'b@dup.example', id: sameId }]).catch((e: unknown) => e);
    expect(validationIssues(error)).toEqual([{ field: 'id', index: 1 }]);
    await expect(ctx.users.isEmailUnique('twice@dup.example')).resolves.toBe(true);
  });

  it("onConflict 'skip' keeps existing users and creates the others", async () => {
    const existing = (await ctx.users.getCredentialsByEmail('plain@import.example'))!;
    const created = await ctx.users.importUsersFromDicts([{ email: 'plain@import.example', fullName: 'Changed' }, { email: 'skip-new@import.example' }], {
      onConflict: 'skip',
    });
    expect(created.map((u) => u.email)).toEqual(['skip-new@import.example']);
    await expect(ctx.users.getUserById(existing.id)).resolves.toMatchObject({ fullName: 'Plain', version: existing.version });
  });

  it("onConflict 'update' overwrites profile fields and the cache follows", async () => {
    const before = (await ctx.users.getUsersByIds([(await ctx.users.getCredentialsByEmail('plain@import.example'))!.id]))[0];
    await expect(ctx.users.getUserById(before.id)).resolves.toEqual(before);
    const [updated] = await ctx.users.importUsersFromDicts(
      [{ email: 'Plain@import.example', fullName: 'Updated', isActive: 'false', roles: '{user,editor}', metadata: '{"team":"blue"}' }],
      { onConflict: 'update' },
    );
    expect(updated).toMatchObject({ id: before.id, fullName: 'Updated', isActive: false, roles: ['user', 'editor'], metadata: { team: 'blue' }, version: before.version + 1 });
    await expect(ctx.users.getUserById(before.id)).resolves.toEqual(updated);
    const credentials = await ctx.users.getCredentialsByEmail('plain@import.example');
    expect(credentials?.hashedPassword).toMatch(/^\$argon2id\$/);
  });

  it("onConflict 'update' keeps a change committed while it waited: the fields a row leaves out are read with the rows locked", async () => {
    const email = uniqueEmail('race');
    const user = await ctx.users.createUserWithValidation(email, 'a racing password 1', { fullName: 'Before' });
    // Another writer holds the row: it renames the user and has not committed yet.
    const other = ctx.dataSource.createQueryRunner();
    await other.connect();
    await other.startTransaction();
    await other.query(`UPDATE users SET full_name = 'Renamed meanwhile' WHERE id = $1`, [user.id]);
    // The import changes the roles only; its row leaves fullName out.
    const importing = ctx.users.importUsersFromDicts([{ email, roles: '{user,editor}' }], { onConflict: 'update' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await other.commitTransaction();
    await other.release();
    const [written] = await importing;
    expect(written).toMatchObject({ id: user.id, fullName: 'Renamed meanwhile', roles: ['user', 'editor'] });
    await expect(ctx.sql(`SELECT full_name FROM users WHERE id = $1`, [user.id])).resolves.toEqual([{ full_name: 'Renamed meanwhile' }]);
  });

  it("onConflict 'update' keeps stored values the API would refuse exactly as they were", async () => {
    const email = uniqueEmail('odd-stored');
    await ctx.sql(
      `INSERT INTO users (email, email_normalized, full_name, hashed_password, roles, metadata) VALUES ($1, $1, $2, '!', $3::text[], $4::jsonb)`,
      [email, 'tab\there\nline\\back', ['a"b', 'c\\d', 'e,f', '{}', 'NULL', ''], JSON.stringify({ 'k\\': 'v\t"', z: [1] })],
    );
    const before = await ctx.sql(`SELECT full_name, roles, metadata FROM users WHERE email = $1`, [email]);
    const [written] = await ctx.users.importUsersFromDicts([{ email, isActive: 'false' }], { onConflict: 'update' });
    await expect(ctx.sql(`SELECT full_name, roles, metadata FROM users WHERE email = $1`, [email])).resolves.toEqual(before);
    expect(written.isActive).toBe(false);
    expect(JSON.stringify(written)).toBe(JSON.stringify(await ctx.users.getUserById(written.id)));
  });

  it('refuses an id that belongs to another user', async () => {
    const other = (await ctx.users.getCredentialsByEmail('hashed@import.example'))!;
    const error = await ctx.users.importUsersFromDicts([{ email: 'thief@import.example', id: other.id }]).catch((e: unknown) => e);
    expect(validationIssues(error)).toEqual([{ field: 'id', index: 0 }]);
  });
});

describe('UsersRepository export then import', () => {
  let source: RepositoryContext;
  let target: RepositoryContext;

  beforeAll(async () => {
    source = await createRepositoryContext();
    target = await createRepositoryContext();
    const users = await source.users.bulkCreateUsers([
      { email: 'Round@Trip.example', hashedPassword: await hashPassword('round trip pw'), fullName: 'Round Trip', roles: ['user', 'admin'], metadata: { a: 1, nested: { b: [true, null] } } },
      { email: '=formula@trip.example', hashedPassword: '$2b$07$' + 'a'.repeat(53), fullName: '@Formula, "quoted"', isActive: false, roles: [] },
      { email: 'noname@trip.example', hashedPassword: '$2b$07$' + 'b'.repeat(53), metadata: { note: 'back\\slash' } },
      { email: 'deleted@trip.example', hashedPassword: '$2b$07$' + 'c'.repeat(53) },
    ]);
    await source.users.updateLastLogin(users[0].id);
    await source.users.softDeleteUser(users[3].id);
  });
  afterAll(async () => {
    await source.close();
    await target.close();
  });

  beforeEach(() => target.sql(`DELETE FROM users`));

  it('reproduces the users through JSON', async () => {
    const rows = JSON.parse(await readAll(await source.users.exportUsersToJson())) as Record<string, unknown>[];
    await expect(target.users.importUsersFromDicts(rows)).resolves.toHaveLength(3);
    await expect(storedUsers(target)).resolves.toEqual(await storedUsers(source));
  });

  it('reproduces the users through CSV', async () => {
    const rows = parseUsersCsv(await readAll(await source.users.exportUsersToCsv()));
    await expect(target.users.importUsersFromDicts(rows)).resolves.toHaveLength(3);
    await expect(storedUsers(target)).resolves.toEqual(await storedUsers(source));
  });

  it('refuses the soft-deleted users of a withDeleted export', async () => {
    const rows = parseUsersCsv(await readAll(await source.users.exportUsersToCsv({ withDeleted: true })));
    const error = await target.users.importUsersFromDicts(rows).catch((e: unknown) => e);
    expect(validationIssues(error)).toEqual([{ field: 'isDeleted', index: rows.findIndex((r) => r.isDeleted === 'true') }]);
    await expect(target.users.countUsers()).resolves.toBe(0);
  });
});
