import { Client } from 'pg';
import { ErrorCode } from '../../src/errors/domain-error';
import { MAX_BULK_ITEMS, MAX_PLAINTEXT_PASSWORDS } from '../../src/users/user-rules';
import type { NewUser } from '../../src/users/user.model';
import { UserAlreadyExistsError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { captureQueries, createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
// Several chunks of COPY lines: enough to prove streaming and all-or-nothing, small enough to stay fast.
const BIG_BATCH = 6000;

describe('UsersRepository bulk writes', () => {
  let ctx: RepositoryContext;
  let hash: string;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    hash = await factoryPasswordHash();
  });
  afterAll(() => ctx.close());

  const countByEmails = async (emails: string[]) =>
    (
      await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email_normalized = ANY($1::text[])`, [
        emails.map((e) => e.trim().toLowerCase()),
      ])
    )[0].n;
  const versions = async (ids: string[]) =>
    Object.fromEntries(
      (await ctx.sql<{ id: string; version: number }>(`SELECT id, version FROM users WHERE id = ANY($1::uuid[])`, [ids])).map((r) => [r.id, r.version]),
    );
  const rows = (n: number, prefix = 'bulk'): NewUser[] => Array.from({ length: n }, () => ({ email: uniqueEmail(prefix), hashedPassword: hash }));

  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e,
    );
  }

  describe('bulkCreateUsers', () => {
    it('creates every user with its fields, hashing plaintext passwords with argon2id', async () => {
      const input: NewUser[] = [
        { email: ` First.${uniqueEmail()} `, password: 'first password', fullName: 'First', roles: ['editor', 'editor'], metadata: { a: 1 } },
        { email: uniqueEmail(), hashedPassword: hash, isActive: false },
      ];
      const created = await ctx.users.bulkCreateUsers(input);
      expect(created).toHaveLength(2);
      const byEmail = new Map(created.map((u) => [u.email, u]));
      expect(byEmail.get(input[0].email.trim())).toMatchObject({ fullName: 'First', roles: ['editor'], metadata: { a: 1 }, isActive: true, version: 1 });
      expect(byEmail.get(input[1].email)).toMatchObject({ fullName: null, roles: ['user'], isActive: false });
      for (const user of created) expect(user).not.toHaveProperty('hashedPassword');
      const stored = await ctx.sql<{ email: string; hashed_password: string }>(`SELECT email, hashed_password FROM users WHERE id = ANY($1::uuid[])`, [
        created.map((u) => u.id),
      ]);
      const storedHash = new Map(stored.map((r) => [r.email, r.hashed_password]));
      expect(storedHash.get(input[0].email.trim())).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(storedHash.get(input[1].email)).toBe(hash);
    });

    it('returns each created user exactly as a read returns it, metadata keys in their stored order', async () => {
      const input: NewUser[] = [
        { email: uniqueEmail('as-read'), hashedPassword: hash, fullName: 'Back\\slash and "quotes"', roles: ['user', 'editor'], metadata: { zeta: 1, b: { y: 'back\\slash', x: [2, { d: 1, c: null }] }, aa: 'x' } },
        { email: uniqueEmail('as-read'), hashedPassword: hash },
      ];
      const created = await ctx.users.bulkCreateUsers(input);
      for (const user of created) expect(JSON.stringify(user)).toBe(JSON.stringify(await ctx.users.getUserById(user.id)));
    });

    it('can run twice in one transaction, and a rollback leaves nothing behind', async () => {
      const first = rows(3, 'twice');
      const second = rows(3, 'twice');
      const outcome = ctx.users.dbTransaction(async () => {
        await ctx.users.bulkCreateUsers(first);
        await ctx.users.bulkCreateUsers(second);
        throw new Error('rolled back on purpose');
      });
      await expect(outcome).rejects.toThrow('rolled back on purpose');
      await expect(countByEmails([...first, ...second].map((u) => u.email))).resolves.toBe(0);
      const [created] = await ctx.users.dbTransaction(async () => [await ctx.users.bulkCreateUsers(first), await ctx.users.bulkCreateUsers(second)]);
      expect(created).toHaveLength(3);
      await expect(countByEmails([...first, ...second].map((u) => u.email))).resolves.toBe(6);
    });

    it('answers an empty list for an empty batch', async () => {
      await expect(ctx.users.bulkCreateUsers([])).resolves.toEqual([]);
    });

    it('reports duplicates inside the batch and against existing users together, by index, writing nothing', async () => {
      const existing = await createUser(ctx.users);
      const a = uniqueEmail();
      const input: NewUser[] = [
        { email: a, hashedPassword: hash },
        { email: existing.email.toUpperCase(), hashedPassword: hash },
        { email: uniqueEmail(), hashedPassword: hash },
        { email: ` ${a.toUpperCase()} `, hashedPassword: hash },
      ];
      const error = await rejection(ctx.users.bulkCreateUsers(input));
      expect(error).toBeInstanceOf(UserAlreadyExistsError);
      expect(error).toMatchObject({ code: ErrorCode.USER_ALREADY_EXISTS });
      expect((error as UserAlreadyExistsError).conflicts).toEqual([
        { email: existing.email.toLowerCase(), index: 1 },
        { email: a.toLowerCase(), index: 3 },
      ]);
      await expect(countByEmails([a, input[2].email])).resolves.toBe(0);
    });

    it('reports every invalid row by index, writing nothing', async () => {
      const good = uniqueEmail();
      const input = [
        { email: 'a@b@example.com', hashedPassword: hash },
        { email: good, hashedPassword: hash },
        { email: uniqueEmail(), password: 'short' },
        { email: uniqueEmail(), hashedPassword: hash, roles: ['Admin'] },
        { email: uniqueEmail() },
        { email: uniqueEmail(), password: 'long enough password', hashedPassword: hash },
        { email: uniqueEmail(), hashedPassword: 'not-a-hash' },
        null,
      ] as NewUser[];
      const error = await rejection(ctx.users.bulkCreateUsers(input));
      expect(error).toBeInstanceOf(UserValidationError);
      expect((error as UserValidationError).issues.map((i) => [i.index, i.field])).toEqual([
        [0, 'email'],
        [2, 'password'],
        [3, 'roles'],
        [4, 'password'],
        [5, 'password'],
        [6, 'hashedPassword'],
        [7, 'user'],
      ]);
      await expect(countByEmails([good])).resolves.toBe(0);
    });

    it('refuses more plaintext passwords than it will hash in one call, and more rows than the cap', async () => {
      const plaintext = Array.from({ length: MAX_PLAINTEXT_PASSWORDS + 1 }, () => ({ email: uniqueEmail(), password: 'long enough password' }));
      const started = performance.now();
      const error = await rejection(ctx.users.bulkCreateUsers(plaintext));
      expect(error).toBeInstanceOf(UserValidationError);
      expect((error as UserValidationError).issues).toEqual([{ field: 'password', reason: expect.stringContaining(String(MAX_PLAINTEXT_PASSWORDS)) }]);
      // Refused before hashing: 101 hashes would take seconds.
      expect(performance.now() - started).toBeLessThan(1000);
      await expect(ctx.users.bulkCreateUsers(rows(MAX_BULK_ITEMS + 1))).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.bulkCreateUsers('nope' as unknown as NewUser[])).rejects.toBeInstanceOf(UserValidationError);
    });

    it(`inserts a large batch (${BIG_BATCH} rows) with one COPY into the users table, in input order, as the rows now are`, async () => {
      const input = rows(BIG_BATCH, 'chunked').map((u, i) => ({ ...u, fullName: `Big ${i}`, roles: ['user', 'editor'], metadata: { zeta: i, a: 'x', nested: { bb: 1, a: [{ yy: 1, x: 2 }] } } }));
      const { result, queries } = await captureQueries(ctx, () => ctx.users.bulkCreateUsers(input));
      expect(result).toHaveLength(BIG_BATCH);
      expect(new Set(result.map((u) => u.id)).size).toBe(BIG_BATCH);
      expect(result.map((u) => u.email)).toEqual(input.map((u) => u.email));
      expect(queries.filter((q) => /^\s*INSERT INTO "users"/.test(q.sql))).toHaveLength(0);
      await expect(countByEmails(input.map((u) => u.email))).resolves.toBe(BIG_BATCH);
      // What it returned is what a read returns (metadata in jsonb's key order included).
      const sample = [0, BIG_BATCH - 1].map((i) => result[i]);
      for (const user of sample) await expect(ctx.users.getUserById(user.id)).resolves.toEqual(user);
      const read = (await ctx.users.getUserById(result[0].id))!;
      expect(JSON.stringify(read.metadata)).toBe(JSON.stringify(result[0].metadata));
    });

    it('writes nothing when the last row fails', async () => {
      // Another connection holds an uncommitted insert of the batch's last address: the
      // duplicate pre-check cannot see it, so the INSERT waits on it and then fails
      // on the unique index once it commits.
      const input = rows(BIG_BATCH, 'rollback');
      const contested = input[input.length - 1].email;
      const other = new Client({ connectionString: ctx.database.url });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(`INSERT INTO users (email, email_normalized, hashed_password) VALUES ($1, $1, $2)`, [contested, hash]);
        const outcome = rejection(ctx.users.bulkCreateUsers(input));
        await waitForLockWait(ctx);
        await other.query('COMMIT');
        const error = await outcome;
        expect(error).toBeInstanceOf(UserAlreadyExistsError);
        expect((error as UserAlreadyExistsError).emails).toEqual([contested]);
      } finally {
        await other.end();
      }
      await expect(countByEmails(input.map((u) => u.email))).resolves.toBe(1);
    });
  });

  describe('bulkUpdateUsers', () => {
    it('updates only the given live ids and bumps their version', async () => {
      const [a, b, untouched] = await Promise.all([createUser(ctx.users), createUser(ctx.users), createUser(ctx.users)]);
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      const before = await versions([a.id, b.id, untouched.id, gone.id]);
      const updated = await ctx.users.bulkUpdateUsers([a.id, b.id, b.id, gone.id, UNKNOWN_ID, 'not-a-uuid'], {
        isActive: false,
        metadata: { batch: 1 },
      });
      expect(updated.map((u) => u.id).sort()).toEqual([a.id, b.id].sort());
      for (const user of updated) expect(user).toMatchObject({ isActive: false, metadata: { batch: 1 }, version: before[user.id] + 1 });
      await expect(versions([untouched.id, gone.id])).resolves.toEqual({ [untouched.id]: before[untouched.id], [gone.id]: before[gone.id] });
      await expect(ctx.users.getUserById(untouched.id)).resolves.toMatchObject({ isActive: true, metadata: {} });
    });

    it('refuses email and any field outside the allow-list, changing nothing', async () => {
      const user = await createUser(ctx.users);
      for (const patch of [{ email: uniqueEmail() }, { roles: ['admin'] }, { hashedPassword: hash }, { isDeleted: true }, { id: UNKNOWN_ID }]) {
        const error = await rejection(ctx.users.bulkUpdateUsers([user.id], patch));
        expect(error).toBeInstanceOf(UserValidationError);
        expect((error as UserValidationError).issues.map((i) => i.field)).toEqual(Object.keys(patch));
      }
      await expect(ctx.users.bulkUpdateUsers([user.id], { isActive: 'no' as unknown as boolean })).rejects.toBeInstanceOf(UserValidationError);
      await expect(versions([user.id])).resolves.toEqual({ [user.id]: user.version });
    });

    it('answers an empty list for no ids or an empty patch, and refuses too many ids', async () => {
      const user = await createUser(ctx.users);
      await expect(ctx.users.bulkUpdateUsers([], { fullName: 'x' })).resolves.toEqual([]);
      await expect(ctx.users.bulkUpdateUsers(['not-a-uuid'], { fullName: 'x' })).resolves.toEqual([]);
      await expect(ctx.users.bulkUpdateUsers([user.id], {})).resolves.toEqual([]);
      await expect(ctx.users.bulkUpdateUsers(Array.from({ length: MAX_BULK_ITEMS + 1 }, () => UNKNOWN_ID), { fullName: 'x' })).rejects.toBeInstanceOf(
        UserValidationError,
      );
      await expect(ctx.users.bulkUpdateUsers('nope' as unknown as string[], { fullName: 'x' })).rejects.toBeInstanceOf(UserValidationError);
    });
  });

  describe('bulkDeleteUsers', () => {
    it('hard-deletes only the given ids, soft-deleted ones included; files go, audit history stays', async () => {
      const [a, b, kept] = await Promise.all([createUser(ctx.users), createUser(ctx.users), createUser(ctx.users)]);
      await ctx.users.softDeleteUser(b.id);
      await ctx.sql(
        `INSERT INTO files (user_id, filename, content_type, size_bytes) VALUES ($1, 'a.txt', 'text/plain', 1), ($2, 'b.txt', 'text/plain', 1), ($3, 'kept.txt', 'text/plain', 1)`,
        [a.id, b.id, kept.id],
      );
      await ctx.sql(`INSERT INTO audit_log (user_id, action, details) VALUES ($1, 'user.updated', '{"fields":["fullName"]}'), ($2, 'user.updated', '{}')`, [
        a.id,
        kept.id,
      ]);
      await expect(ctx.users.bulkDeleteUsers([a.id, b.id, a.id, UNKNOWN_ID, 'not-a-uuid'])).resolves.toBe(2);
      await expect(ctx.sql(`SELECT id FROM users WHERE id = ANY($1::uuid[])`, [[a.id, b.id, kept.id]])).resolves.toEqual([{ id: kept.id }]);
      await expect(ctx.sql(`SELECT filename FROM files WHERE user_id = ANY($1::uuid[])`, [[a.id, b.id, kept.id]])).resolves.toEqual([
        { filename: 'kept.txt' },
      ]);
      await expect(ctx.sql(`SELECT user_id, action FROM audit_log WHERE user_id = ANY($1::uuid[]) ORDER BY id`, [[a.id, kept.id]])).resolves.toEqual([
        { user_id: a.id, action: 'user.updated' },
        { user_id: kept.id, action: 'user.updated' },
      ]);
      await expect(ctx.users.getUserById(kept.id)).resolves.toMatchObject({ id: kept.id });
    });

    it('answers 0 for no ids or unknown ids, and refuses too many ids', async () => {
      await expect(ctx.users.bulkDeleteUsers([])).resolves.toBe(0);
      await expect(ctx.users.bulkDeleteUsers([UNKNOWN_ID, 'not-a-uuid'])).resolves.toBe(0);
      await expect(ctx.users.bulkDeleteUsers(Array.from({ length: MAX_BULK_ITEMS + 1 }, () => UNKNOWN_ID))).rejects.toBeInstanceOf(UserValidationError);
    });
  });
});

// Resolves once a backend of this database waits on a lock in an INSERT or a COPY into users. It polls
// from outside the lock holder's transaction, whose view of pg_stat_activity is a snapshot.
async function waitForLockWait(ctx: RepositoryContext): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const rows = await ctx.sql<{ waiting: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                        AND wait_event_type = 'Lock' AND (query LIKE '%INSERT INTO "users"%' OR query LIKE '%COPY "users"%')) AS waiting`,
    );
    if (rows[0].waiting) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the bulk insert never waited on the held row');
}
