import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/errors/domain-error';
import { MAX_PAGE_LIMIT } from '../../src/common/paging';
import type { User } from '../../src/users/user.model';
import { UserNotFoundError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { captureQueries, createUser, explain, seedUsers, uniqueEmail } from '../support/user-factory';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

describe('UsersRepository reads', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const liveIdsNewestFirst = async (withDeleted = false) =>
    (
      await ctx.sql<{ id: string }>(
        `SELECT id FROM users WHERE ${withDeleted ? 'TRUE' : 'deleted_at IS NULL'} ORDER BY created_at DESC, id DESC`,
      )
    ).map((r) => r.id);

  async function softDeleted(overrides = {}): Promise<User> {
    const user = await createUser(ctx.users, overrides);
    return ctx.users.softDeleteUser(user.id);
  }

  describe('getUserById / safeGetUserById / userExists', () => {
    it('creates and reads a user without its hash', async () => {
      const user = await ctx.users.createUserWithValidation('  Alice@Example.COM ', 'correct horse battery');
      expect(user.email).toBe('Alice@Example.COM');
      expect(user).not.toHaveProperty('hashedPassword');
      await expect(ctx.users.getUserById(user.id)).resolves.toEqual(user);
      await expect(ctx.users.getUserById(user.id.toUpperCase())).resolves.toEqual(user);
      await expect(ctx.users.safeGetUserById(user.id)).resolves.toEqual(user);
      await expect(ctx.users.userExists(user.id)).resolves.toBe(true);
    });

    it('answers null / not found / false for unknown and non-UUID ids', async () => {
      await expect(ctx.users.getUserById(UNKNOWN_ID)).resolves.toBeNull();
      await expect(ctx.users.getUserById('not-a-uuid')).resolves.toBeNull();
      await expect(ctx.users.getUserById("1' OR '1'='1")).resolves.toBeNull();
      await expect(ctx.users.safeGetUserById(UNKNOWN_ID)).rejects.toBeInstanceOf(UserNotFoundError);
      await expect(ctx.users.safeGetUserById('not-a-uuid')).rejects.toMatchObject({ code: ErrorCode.USER_NOT_FOUND });
      await expect(ctx.users.userExists(UNKNOWN_ID)).resolves.toBe(false);
      await expect(ctx.users.userExists('not-a-uuid')).resolves.toBe(false);
    });

    it('hides a soft-deleted user unless withDeleted is asked for', async () => {
      const gone = await softDeleted();
      await expect(ctx.users.getUserById(gone.id)).resolves.toBeNull();
      await expect(ctx.users.safeGetUserById(gone.id)).rejects.toBeInstanceOf(UserNotFoundError);
      await expect(ctx.users.userExists(gone.id)).resolves.toBe(false);
      await expect(ctx.users.getUserById(gone.id, { withDeleted: true })).resolves.toMatchObject({ id: gone.id, isDeleted: true });
      await expect(ctx.users.safeGetUserById(gone.id, { withDeleted: true })).resolves.toMatchObject({ id: gone.id });
    });
  });

  describe('getUsersByIds', () => {
    it('returns users in the order asked, each once, skipping missing, soft-deleted and malformed ids, in one query', async () => {
      const [a, b, c] = await Promise.all([createUser(ctx.users), createUser(ctx.users), createUser(ctx.users)]);
      const gone = await softDeleted();
      const { result, queries } = await captureQueries(ctx, () =>
        ctx.users.getUsersByIds([c.id, UNKNOWN_ID, a.id, gone.id, 'nope', c.id, b.id.toUpperCase(), a.id]),
      );
      expect(result.map((u) => u.id)).toEqual([c.id, a.id, b.id]);
      expect(queries).toHaveLength(1);
    });

    it('answers an empty list without a query', async () => {
      const { result, queries } = await captureQueries(ctx, () => ctx.users.getUsersByIds([]));
      expect(result).toEqual([]);
      expect(queries).toHaveLength(0);
      await expect(ctx.users.getUsersByIds(['not-a-uuid', UNKNOWN_ID])).resolves.toEqual([]);
    });
  });

  describe('listUsersPaginated', () => {
    beforeAll(async () => {
      await seedUsers(ctx, 30);
      await seedUsers(ctx, 5, { deleted: true });
    });

    it('pages newest first with the live total', async () => {
      const expected = await liveIdsNewestFirst();
      const first = await ctx.users.listUsersPaginated(0, 10);
      const second = await ctx.users.listUsersPaginated(10, 10);
      expect(first).toMatchObject({ total: expected.length, offset: 0, limit: 10 });
      expect([...first.items, ...second.items].map((u) => u.id)).toEqual(expected.slice(0, 20));
      await expect(ctx.users.countUsers()).resolves.toBe(expected.length);
    });

    it('includes soft-deleted users only with withDeleted', async () => {
      const all = await liveIdsNewestFirst(true);
      const page = await ctx.users.listUsersPaginated(0, MAX_PAGE_LIMIT, { withDeleted: true });
      expect(page.total).toBe(all.length);
      expect(page.items.map((u) => u.id)).toEqual(all);
      const live = await ctx.users.listUsersPaginated(0, MAX_PAGE_LIMIT);
      expect(live.items.every((u) => !u.isDeleted)).toBe(true);
      expect(live.total).toBeLessThan(all.length);
    });

    it('answers an empty page past the end, with the total', async () => {
      const total = await ctx.users.countUsers();
      await expect(ctx.users.listUsersPaginated(total + 5, 10)).resolves.toEqual({ items: [], total, offset: total + 5, limit: 10 });
    });

    it('caps the page size at 1000 and rejects a bad offset or limit', async () => {
      await expect(ctx.users.listUsersPaginated(0, 5000)).resolves.toMatchObject({ limit: MAX_PAGE_LIMIT });
      await expect(ctx.users.listUsersPaginated()).resolves.toMatchObject({ offset: 0, limit: 50 });
      for (const [offset, limit] of [
        [0, 0],
        [0, -1],
        [0, 1.5],
        [-1, 10],
        [0.5, 10],
        [Number.NaN, 10],
        [0, Number.POSITIVE_INFINITY],
      ]) {
        await expect(ctx.users.listUsersPaginated(offset, limit)).rejects.toBeInstanceOf(UserValidationError);
      }
      await expect(ctx.users.filterUsersByStatus(true, { offset: -1 })).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
    });
  });

  describe('listUsersAfter (keyset)', () => {
    beforeAll(async () => {
      // Rows inserted by one statement share now(): only the id tie-break orders them.
      await seedUsers(ctx, 120);
      // Created within one millisecond: a cursor carried as a JS Date would lose them.
      await seedUsers(ctx, 40, { createdAtSql: `timestamptz '2020-01-01 00:00:00.000100+00' + n * interval '1 microsecond'` });
      await seedUsers(ctx, 10, { deleted: true });
    });

    async function walk(limit: number, withDeleted = false): Promise<string[]> {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10_000; pages++) {
        const page = await ctx.users.listUsersAfter(cursor, limit, { withDeleted });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items.map((u) => u.id));
        cursor = page.nextCursor;
        if (cursor === null) return seen;
      }
      throw new Error('keyset walk did not end');
    }

    it('walks the whole table newest first with no duplicates or gaps', async () => {
      const expected = await liveIdsNewestFirst();
      for (const limit of [7, 50]) {
        const seen = await walk(limit);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual(expected);
      }
    });

    it('walks soft-deleted users too with withDeleted', async () => {
      await expect(walk(33, true)).resolves.toEqual(await liveIdsNewestFirst(true));
    });

    it('ends with a null cursor when the last page is exactly full', async () => {
      const total = await ctx.users.countUsers();
      const page = await ctx.users.listUsersAfter(null, total);
      expect(page.items).toHaveLength(total);
      expect(page.nextCursor).toBeNull();
    });

    it('rejects a forged cursor and a bad limit', async () => {
      const forged = [
        'garbage',
        Buffer.from('{"a":1}').toString('base64url'),
        Buffer.from(JSON.stringify(['2020-01-01', UNKNOWN_ID])).toString('base64url'),
        Buffer.from(JSON.stringify(["2020-01-01T00:00:00.000000Z'; DROP TABLE users; --", UNKNOWN_ID])).toString('base64url'),
        Buffer.from(JSON.stringify(['2020-01-01T00:00:00.000000Z', 'not-a-uuid'])).toString('base64url'),
      ];
      for (const cursor of forged) await expect(ctx.users.listUsersAfter(cursor, 10)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.listUsersAfter(null, 0)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.listUsersAfter(null, 5000)).resolves.toMatchObject({ items: expect.any(Array) });
    });
  });

  describe('searchUsersByNameOrEmail', () => {
    const token = `q${randomUUID().slice(0, 6)}`;
    const named: Record<string, User> = {};

    beforeAll(async () => {
      const names = {
        percent: `${token} 50% off`,
        percentDecoy: `${token} 50x off`,
        underscore: `${token} snake_case`,
        underscoreDecoy: `${token} snakeXcase`,
        backslash: `${token} back\\slash`,
        backslashDecoy: `${token} backslash`,
        mixedCase: `${token} Zebediah Quux`,
      };
      for (const [key, fullName] of Object.entries(names)) named[key] = await createUser(ctx.users, { fullName });
      named.email = await createUser(ctx.users, { email: `MiXeD.${token}@Example.COM` });
      named.deleted = await softDeleted({ fullName: `${token} deleted` });
    });

    const ids = (page: { items: User[] }) => page.items.map((u) => u.id).sort();

    it('treats %, _ and \\ as literal characters', async () => {
      await expect(ctx.users.searchUsersByNameOrEmail(`${token} 50%`).then(ids)).resolves.toEqual([named.percent.id]);
      await expect(ctx.users.searchUsersByNameOrEmail('e_c').then((p) => p.items.map((u) => u.id))).resolves.toContain(named.underscore.id);
      await expect(ctx.users.searchUsersByNameOrEmail(`${token} snake_`).then(ids)).resolves.toEqual([named.underscore.id]);
      await expect(ctx.users.searchUsersByNameOrEmail(`${token} back\\s`).then(ids)).resolves.toEqual([named.backslash.id]);
      await expect(ctx.users.searchUsersByNameOrEmail("0% off").then(ids)).resolves.toEqual([named.percent.id]);
    });

    it('is case-insensitive on name and email', async () => {
      await expect(ctx.users.searchUsersByNameOrEmail(`${token} ZEBEDIAH`).then(ids)).resolves.toEqual([named.mixedCase.id]);
      await expect(ctx.users.searchUsersByNameOrEmail(`mixed.${token.toUpperCase()}@example`).then(ids)).resolves.toEqual([named.email.id]);
    });

    it('hides soft-deleted users unless withDeleted, and pages with a total', async () => {
      const live = await ctx.users.searchUsersByNameOrEmail(token, 0, 3);
      expect(live).toMatchObject({ total: 8, offset: 0, limit: 3 });
      expect(live.items).toHaveLength(3);
      const all = await ctx.users.searchUsersByNameOrEmail(token, 0, 100, { withDeleted: true });
      expect(all.total).toBe(9);
      expect(all.items.map((u) => u.id)).toContain(named.deleted.id);
      await expect(ctx.users.searchUsersByNameOrEmail(`${token} deleted`)).resolves.toMatchObject({ total: 0, items: [] });
    });

    it('rejects an empty, blank or oversized query and bad paging', async () => {
      for (const q of ['', '   ', 'x'.repeat(255)]) await expect(ctx.users.searchUsersByNameOrEmail(q)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.searchUsersByNameOrEmail(token, -1, 10)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.searchUsersByNameOrEmail(token, 0, 5000)).resolves.toMatchObject({ limit: MAX_PAGE_LIMIT });
    });

    // Cyrillic, which no other user of this file has, so that the short terms match only these.
    describe('with a term of one or two characters', () => {
      const short: Record<string, User> = {};

      beforeAll(async () => {
        short.nameStart = await createUser(ctx.users, { fullName: 'Жукова Anna' });
        short.laterWord = await createUser(ctx.users, { fullName: 'Anna Жуковская' });
        short.emailStart = await createUser(ctx.users, { email: uniqueEmail('жук') });
        short.inside = await createUser(ctx.users, { fullName: 'Ажур Smith', email: uniqueEmail('x.жук') });
      });

      it('matches the start of the email or of a word of the name, case-insensitively', async () => {
        const expected = [short.nameStart.id, short.laterWord.id, short.emailStart.id].sort();
        for (const q of ['жу', 'ЖУ', ' Жу ', 'ж']) await expect(ctx.users.searchUsersByNameOrEmail(q).then(ids)).resolves.toEqual(expected);
        await expect(ctx.users.searchUsersByNameOrEmail('жур').then(ids)).resolves.toEqual([short.inside.id]);
      });

      it('refuses one that is not letters or digits', async () => {
        for (const q of ['@', 'a.', '%', '_x', 'ж-']) {
          await expect(ctx.users.searchUsersByNameOrEmail(q)).rejects.toMatchObject({ details: [{ field: 'q', reason: 'must be letters or digits when shorter than 3 characters' }] });
        }
      });
    });

    it('matches a term of three characters or more as ILIKE on the email or the name did', async () => {
      await createUser(ctx.users, { fullName: 'Anna \u212Aelvin Straße İstanbul', email: uniqueEmail('Ünïcode.ΣΑΣ') });
      const byIlike = async (term: string) => {
        const pattern = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        const rows = await ctx.sql<{ id: string }>(`SELECT id FROM users WHERE deleted_at IS NULL AND (email ILIKE $1 OR full_name ILIKE $1)`, [pattern]);
        return rows.map((r) => r.id).sort();
      };
      const terms = [token, `${token} 50%`, 'e_c', 'back\\s', 'zebediah', `MIXED.${token}`, 'kelvin', 'KELVIN', 'straße', 'STRASSE', 'istanbul', 'ünïc', 'ÜNÏC', 'σας', 'ΣΑΣ', 'com anna', 'anna k'];
      for (const term of terms) {
        const page = await ctx.users.searchUsersByNameOrEmail(term, 0, MAX_PAGE_LIMIT);
        expect({ term, ids: ids(page) }).toEqual({ term, ids: await byIlike(term) });
      }
    });
  });

  describe('status, role, date and custom-field filters', () => {
    it('filters by status, live users only unless withDeleted', async () => {
      const inactive = await createUser(ctx.users, { isActive: false });
      const active = await createUser(ctx.users);
      const gone = await softDeleted({ isActive: false });
      const inactiveIds = (await ctx.users.getInactiveUsers({ limit: MAX_PAGE_LIMIT })).items.map((u) => u.id);
      expect(inactiveIds).toContain(inactive.id);
      expect(inactiveIds).not.toContain(active.id);
      expect(inactiveIds).not.toContain(gone.id);
      const activePage = await ctx.users.getActiveUsers({ limit: MAX_PAGE_LIMIT });
      expect(activePage.items.every((u) => u.isActive)).toBe(true);
      await expect(ctx.users.filterUsersByStatus(true)).resolves.toMatchObject({ total: await ctx.users.countUsers(true) });
      await expect(ctx.users.filterUsersByStatus(false)).resolves.toMatchObject({ total: await ctx.users.countUsers(false) });
      const withDeleted = await ctx.users.filterUsersByStatus(false, { withDeleted: true, limit: MAX_PAGE_LIMIT });
      expect(withDeleted.items.map((u) => u.id)).toContain(gone.id);
      await expect(ctx.users.filterUsersByStatus('false' as unknown as boolean)).rejects.toBeInstanceOf(UserValidationError);
    });

    it('filters by role', async () => {
      const role = `auditor-${randomUUID().slice(0, 6)}`;
      const holder = await createUser(ctx.users, { roles: ['user', role] });
      await createUser(ctx.users);
      const gone = await softDeleted({ roles: [role] });
      await expect(ctx.users.filterUsersByRole(role)).resolves.toMatchObject({ total: 1, items: [{ id: holder.id }] });
      await expect(ctx.users.filterUsersByRole(role, { withDeleted: true }).then((p) => p.items.map((u) => u.id).sort())).resolves.toEqual(
        [holder.id, gone.id].sort(),
      );
      for (const bad of ['Admin', 'has space', '', "x' OR '1'='1", 'a'.repeat(33)]) {
        await expect(ctx.users.filterUsersByRole(bad)).rejects.toBeInstanceOf(UserValidationError);
      }
    });

    it('filters by creation time: start inclusive, end exclusive', async () => {
      const [u1, u2, u3] = await Promise.all([createUser(ctx.users), createUser(ctx.users), createUser(ctx.users)]);
      const start = new Date('2019-03-01T00:00:00Z');
      const end = new Date('2019-03-01T02:00:00Z');
      await ctx.sql(`UPDATE users SET created_at = $2 WHERE id = $1`, [u1.id, start]);
      await ctx.sql(`UPDATE users SET created_at = $2 WHERE id = $1`, [u2.id, new Date('2019-03-01T01:59:59.999Z')]);
      await ctx.sql(`UPDATE users SET created_at = $2 WHERE id = $1`, [u3.id, end]);
      const page = await ctx.users.getUsersCreatedWithin(start, end);
      expect(page.items.map((u) => u.id)).toEqual([u2.id, u1.id]);
      expect(page.total).toBe(2);
      await expect(ctx.users.getUsersCreatedWithin(start, start)).resolves.toMatchObject({ total: 0, items: [] });
      await ctx.users.softDeleteUser(u2.id);
      await expect(ctx.users.getUsersCreatedWithin(start, end).then((p) => p.items.map((u) => u.id))).resolves.toEqual([u1.id]);
      await expect(ctx.users.getUsersCreatedWithin(start, end, { withDeleted: true })).resolves.toMatchObject({ total: 2 });
      await expect(ctx.users.getUsersCreatedWithin(end, start)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.getUsersCreatedWithin(new Date('nope'), end)).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.getUsersCreatedWithin(start, '2019-03-02' as unknown as Date)).rejects.toBeInstanceOf(UserValidationError);
    });

    it('filters by a metadata field with jsonb containment', async () => {
      const plan = `plan-${randomUUID().slice(0, 6)}`;
      const pro = await createUser(ctx.users, { metadata: { plan, seats: 5, tags: ['a', 'b'] } });
      const other = await createUser(ctx.users, { metadata: { plan: 'free', seats: '5' } });
      await softDeleted({ metadata: { plan } });
      await expect(ctx.users.getUsersByCustomField('plan', plan)).resolves.toMatchObject({ total: 1, items: [{ id: pro.id }] });
      await expect(ctx.users.getUsersByCustomField('plan', plan, { withDeleted: true })).resolves.toMatchObject({ total: 2 });
      const seats = await ctx.users.getUsersByCustomField('seats', 5);
      expect(seats.items.map((u) => u.id)).toContain(pro.id);
      expect(seats.items.map((u) => u.id)).not.toContain(other.id);
      const tagged = await ctx.users.getUsersByCustomField('tags', ['b']);
      expect(tagged.items.map((u) => u.id)).toContain(pro.id);
      await expect(ctx.users.getUsersByCustomField('_x9', null)).resolves.toMatchObject({ total: 0 });
      await expect(ctx.users.getUsersByCustomField(`a${'b'.repeat(63)}`, 'x')).resolves.toMatchObject({ total: 0 });
    });

    it('rejects a custom field name outside [A-Za-z_][A-Za-z0-9_]{0,63} and a missing value', async () => {
      for (const field of ['', '1plan', 'plan-x', 'pl an', "plan' OR '1'='1", 'plän', `a${'b'.repeat(64)}`]) {
        await expect(ctx.users.getUsersByCustomField(field, 'x')).rejects.toBeInstanceOf(UserValidationError);
      }
      await expect(ctx.users.getUsersByCustomField('plan', undefined)).rejects.toBeInstanceOf(UserValidationError);
      // Values JSON cannot carry must not turn into a search for null (or a raw TypeError).
      for (const value of [() => 1, Symbol('s'), 10n]) {
        await expect(ctx.users.getUsersByCustomField('plan', value)).rejects.toBeInstanceOf(UserValidationError);
      }
    });
  });

  describe('countUsers', () => {
    it('counts live users, optionally by status, and soft-deleted ones only with withDeleted', async () => {
      const [counts] = await ctx.sql<{ live: number; active: number; inactive: number; all: number }>(
        `SELECT count(*) FILTER (WHERE deleted_at IS NULL)::int AS live,
                count(*) FILTER (WHERE deleted_at IS NULL AND is_active)::int AS active,
                count(*) FILTER (WHERE deleted_at IS NULL AND NOT is_active)::int AS inactive,
                count(*)::int AS all
         FROM users`,
      );
      await expect(ctx.users.countUsers()).resolves.toBe(counts.live);
      await expect(ctx.users.countUsers(true)).resolves.toBe(counts.active);
      await expect(ctx.users.countUsers(false)).resolves.toBe(counts.inactive);
      await expect(ctx.users.countUsers(undefined, { withDeleted: true })).resolves.toBe(counts.all);
      expect(counts.all).toBeGreaterThan(counts.live);
      await expect(ctx.users.countUsers('yes' as unknown as boolean)).rejects.toBeInstanceOf(UserValidationError);
    });
  });

  describe('getUserWithFiles', () => {
    it('returns the user with its files newest first, in one query', async () => {
      const user = await createUser(ctx.users);
      const other = await createUser(ctx.users);
      await ctx.sql(
        `INSERT INTO files (user_id, filename, content_type, size_bytes, created_at) VALUES
           ($1, 'old.txt', 'text/plain', 10, '2024-01-01T00:00:00Z'),
           ($1, 'new.png', 'image/png', 5000000000, '2024-03-01T00:00:00Z'),
           ($1, 'mid.pdf', 'application/pdf', 300, '2024-02-01T00:00:00Z'),
           ($2, 'theirs.txt', 'text/plain', 1, '2024-05-01T00:00:00Z')`,
        [user.id, other.id],
      );
      const { result, queries } = await captureQueries(ctx, () => ctx.users.getUserWithFiles(user.id));
      expect(queries).toHaveLength(1);
      expect(result).toMatchObject({ id: user.id, email: user.email });
      expect(result?.files.map((f) => f.filename)).toEqual(['new.png', 'mid.pdf', 'old.txt']);
      expect(result?.files[0]).toEqual({
        id: expect.any(String),
        filename: 'new.png',
        contentType: 'image/png',
        sizeBytes: 5000000000,
        createdAt: new Date('2024-03-01T00:00:00Z'),
      });
    });

    it('answers an empty file list, and null for unknown, malformed or soft-deleted ids', async () => {
      const user = await createUser(ctx.users);
      await expect(ctx.users.getUserWithFiles(user.id)).resolves.toMatchObject({ id: user.id, files: [] });
      await expect(ctx.users.getUserWithFiles(UNKNOWN_ID)).resolves.toBeNull();
      await expect(ctx.users.getUserWithFiles('not-a-uuid')).resolves.toBeNull();
      const gone = await softDeleted();
      await expect(ctx.users.getUserWithFiles(gone.id)).resolves.toBeNull();
    });
  });

  describe('userSignupsPerMonth', () => {
    it('counts live signups per UTC month, all twelve months present', async () => {
      const at = async (createdAt: string, deleted = false) => {
        const user = await createUser(ctx.users);
        await ctx.sql(`UPDATE users SET created_at = $2 WHERE id = $1`, [user.id, createdAt]);
        if (deleted) await ctx.users.softDeleteUser(user.id);
      };
      await at('2025-01-01T00:00:00Z');
      await at('2025-01-31T23:30:00-05:00'); // 04:30 UTC on 1 February
      await at('2025-02-28T23:59:59.999999Z');
      await at('2025-03-15T12:00:00Z', true);
      await at('2025-12-31T23:59:59.999999Z');
      await at('2024-12-31T23:59:59.999999Z');
      await at('2026-01-01T00:00:00Z');
      await expect(ctx.users.userSignupsPerMonth(2025)).resolves.toEqual({
        1: 1,
        2: 2,
        3: 0,
        4: 0,
        5: 0,
        6: 0,
        7: 0,
        8: 0,
        9: 0,
        10: 0,
        11: 0,
        12: 1,
      });
      const empty = await ctx.users.userSignupsPerMonth(1999);
      expect(Object.keys(empty)).toHaveLength(12);
      expect(Object.values(empty).every((n) => n === 0)).toBe(true);
    });

    it('rejects a year that is not an integer in range', async () => {
      for (const year of [2025.5, 1969, 10000, Number.NaN]) {
        await expect(ctx.users.userSignupsPerMonth(year)).rejects.toBeInstanceOf(UserValidationError);
      }
    });
  });

  describe('isEmailUnique and email lookups', () => {
    let alice: User;
    beforeAll(async () => {
      alice = await createUser(ctx.users, { email: 'alice@lookalike.example' });
    });

    it('is case-insensitive and NFKC-folded', async () => {
      for (const email of ['alice@lookalike.example', 'ALICE@Lookalike.Example', '  alice@lookalike.example ', 'ＡＬＩＣＥ@lookalike.example']) {
        await expect(ctx.users.isEmailUnique(email)).resolves.toBe(false);
      }
      await expect(ctx.users.isEmailUnique(uniqueEmail())).resolves.toBe(true);
    });

    it('never folds a lookalike onto another account', async () => {
      // Dotless ı is another letter: JavaScript's toUpperCase would fold it to I.
      await expect(ctx.users.isEmailUnique('alıce@lookalike.example')).resolves.toBe(true);
      await expect(ctx.users.isEmailUnique('аlice@lookalike.example')).resolves.toBe(true); // Cyrillic а
      await expect(ctx.users.getCredentialsByEmail('alıce@lookalike.example')).resolves.toBeNull();
      await expect(ctx.users.getCredentialsByEmail('ＡＬＩＣＥ@lookalike.example')).resolves.toMatchObject({ id: alice.id });
    });

    it('ignores the excluded user and soft-deleted users', async () => {
      await expect(ctx.users.isEmailUnique('Alice@lookalike.example', alice.id)).resolves.toBe(true);
      await expect(ctx.users.isEmailUnique('Alice@lookalike.example', UNKNOWN_ID)).resolves.toBe(false);
      await expect(ctx.users.isEmailUnique('Alice@lookalike.example', 'not-a-uuid')).resolves.toBe(false);
      const gone = await softDeleted();
      await expect(ctx.users.isEmailUnique(gone.email)).resolves.toBe(true);
      await expect(ctx.users.getCredentialsByEmail(gone.email)).resolves.toBeNull();
      await expect(ctx.users.getCredentialsById(gone.id)).resolves.toBeNull();
    });

    it('rejects malformed emails', async () => {
      for (const email of ['', 'no-at', 'a@b@lookalike.example', 'bo\u0000b@lookalike.example', 'bo\tb@lookalike.example', 'zw\u200bj@lookalike.example', `${'a'.repeat(250)}@x.io`]) {
        await expect(ctx.users.isEmailUnique(email)).rejects.toBeInstanceOf(UserValidationError);
        await expect(ctx.users.getCredentialsByEmail(email)).resolves.toBeNull();
      }
    });
  });

  describe('index use', () => {
    let searched: User;
    let rarePlan: User;

    beforeAll(async () => {
      await seedUsers(ctx, 4000, { metadata: { plan: 'free' } });
      searched = await createUser(ctx.users, { fullName: 'Quintessa Vexworth' });
      rarePlan = await createUser(ctx.users, { metadata: { plan: 'enterprise-rare' } });
      // VACUUM also flushes the GIN pending lists: rows still waiting there make a GIN scan look
      // expensive and the planner falls back to a sequential scan on a table this small.
      await ctx.sql('VACUUM ANALYZE users');
    });

    it('serves a selective search, page and count, from the trigram index', async () => {
      for (const term of ['vexwort', 've']) {
        const { result, queries } = await captureQueries(ctx, () => ctx.users.searchUsersByNameOrEmail(term));
        expect(result.items.map((u) => u.id)).toEqual([searched.id]);
        expect(queries).toHaveLength(2);
        for (const query of queries) expect(await explain(ctx, query)).toMatch(/Bitmap Index Scan on "?IDX_users_search_trgm/);
      }
    });

    it('serves a common term, page and count, from the covering index alone, newest first', async () => {
      const { result, queries } = await captureQueries(ctx, () => ctx.users.searchUsersByNameOrEmail('seed', 0, 20));
      expect(result).toMatchObject({ total: 1000, totalCapped: true });
      for (const query of queries) {
        const plan = await explain(ctx, query);
        expect(plan).toMatch(/Index Only Scan Backward using "?IDX_users_live_search/);
        expect(plan).not.toMatch(/Seq Scan|Bitmap/);
      }
    });

    it('serves a custom-field filter from the GIN index', async () => {
      const { result, queries } = await captureQueries(ctx, () => ctx.users.getUsersByCustomField('plan', 'enterprise-rare'));
      expect(result.items.map((u) => u.id)).toEqual([rarePlan.id]);
      const plan = await explain(ctx, queries.find((q) => /LIMIT/.test(q.sql))!);
      expect(plan).toContain('IDX_users_metadata');
    });

    it('serves a keyset page from the (created_at, id) index', async () => {
      const first = await ctx.users.listUsersAfter(null, 10);
      const { queries } = await captureQueries(ctx, () => ctx.users.listUsersAfter(first.nextCursor, 10));
      const plan = await explain(ctx, queries[0]);
      expect(plan).toMatch(/Index Scan Backward using "?IDX_users_live_created_at_id/);
    });
  });
});
