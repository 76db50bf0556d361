import { ErrorCode } from '../../src/errors/domain-error';
import { UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { captureQueries, createUser, explain, seedUsers } from '../support/user-factory';

// Dormant users: live users whose last login (or creation, for those who never logged in) is
// older than a number of days.
describe('dormant users', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({}, { settings: { events: { relay: false } } });
  });
  afterAll(() => ctx.close());

  // A user created `createdDaysAgo` days ago and last logged in `loginDaysAgo` days ago (never: null).
  async function userSeen(createdDaysAgo: number, loginDaysAgo: number | null): Promise<string> {
    const user = await createUser(ctx.users);
    await ctx.sql(
      `UPDATE users SET created_at = now() - make_interval(days => $2), last_login_at = CASE WHEN $3::int IS NULL THEN NULL ELSE now() - make_interval(days => $3::int) END WHERE id = $1`,
      [user.id, createdDaysAgo, loginDaysAgo],
    );
    return user.id;
  }

  const listAll = async (inactiveForDays: number, limit?: number) => {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page = await ctx.users.listDormantUsers({ inactiveForDays, after, limit });
      ids.push(...page.items.map((u) => u.id));
      if (!page.nextCursor) return ids;
      after = page.nextCursor;
    }
    throw new Error('the pages never ended');
  };

  describe('list and count', () => {
    let neverLoggedIn: string;
    let loggedInLately: string;
    let loggedInLongAgo: string;
    let oldest: string;

    beforeAll(async () => {
      neverLoggedIn = await userSeen(100, null);
      loggedInLately = await userSeen(200, 10);
      loggedInLongAgo = await userSeen(300, 95);
      oldest = await userSeen(120, 120);
      const deleted = await userSeen(400, null);
      await ctx.users.softDeleteUser(deleted);
      await userSeen(0, null);
    });

    it('lists live users not seen for the days given, longest unseen first, a never-logged-in user counting from its creation', async () => {
      const page = await ctx.users.listDormantUsers({ inactiveForDays: 90 });
      expect(page.items.map((u) => u.id)).toEqual([oldest, neverLoggedIn, loggedInLongAgo]);
      expect(page.nextCursor).toBeNull();
      expect(page.items[0]).not.toHaveProperty('hashedPassword');
      await expect(ctx.users.countDormantUsers({ inactiveForDays: 90 })).resolves.toBe(3);
      await expect(ctx.users.countDormantUsers({ inactiveForDays: 110 })).resolves.toBe(1);
      await expect(ctx.users.countDormantUsers({ inactiveForDays: 5 })).resolves.toBe(4);
      expect((await ctx.users.listDormantUsers({ inactiveForDays: 5 })).items.map((u) => u.id)).toContain(loggedInLately);
    });

    it('pages by keyset, each user once, in the order of one query', async () => {
      expect(await listAll(90, 1)).toEqual([oldest, neverLoggedIn, loggedInLongAgo]);
      expect(await listAll(90, 2)).toEqual([oldest, neverLoggedIn, loggedInLongAgo]);
    });

    it('breaks ties of one last-seen time by id, to the microsecond', async () => {
      const tied = await seedUsers(ctx, 7, { createdAtSql: `'2001-02-03 04:05:06.123456+00'::timestamptz` });
      const walked = await listAll(90, 2);
      expect(walked.slice(0, 7)).toEqual([...tied].sort());
      expect(walked.slice(7)).toEqual([oldest, neverLoggedIn, loggedInLongAgo]);
      await ctx.sql(`DELETE FROM users WHERE id = ANY($1::uuid[])`, [tied]);
    });

    it('refuses a bad number of days, limit or cursor', async () => {
      for (const inactiveForDays of [0, -1, 1.5, Number.NaN, 36_501, '90' as unknown as number, undefined as unknown as number]) {
        await expect(ctx.users.listDormantUsers({ inactiveForDays })).rejects.toBeInstanceOf(UserValidationError);
        await expect(ctx.users.countDormantUsers({ inactiveForDays })).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
      }
      await expect(ctx.users.listDormantUsers({ inactiveForDays: 90, limit: 0 })).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
      await expect(ctx.users.listDormantUsers({ inactiveForDays: 90, after: 'not-a-cursor' })).rejects.toMatchObject({
        code: ErrorCode.VALIDATION_FAILED,
        details: [{ field: 'after' }],
      });
    });
  });

  describe('the warning mark', () => {
    const warnedAt = async (id: string) => (await ctx.sql<{ warned: Date | null }>(`SELECT dormant_warned_at AS warned FROM users WHERE id = $1`, [id]))[0].warned;
    const warn = (id: string) => ctx.sql(`UPDATE users SET dormant_warned_at = now() WHERE id = $1`, [id]);

    it('is cleared by a login and by a reactivation, by any write path, and kept by other changes', async () => {
      const id = await userSeen(100, null);
      await warn(id);
      await ctx.users.partialUpdateUser(id, { fullName: 'Still dormant' });
      await ctx.users.deactivateUser(id);
      expect(await warnedAt(id)).not.toBeNull();
      await ctx.users.reactivateUser(id);
      expect(await warnedAt(id)).toBeNull();

      await warn(id);
      await ctx.users.updateLastLogin(id);
      expect(await warnedAt(id)).toBeNull();

      await warn(id);
      await ctx.users.bulkUpdateUsers([id], { isActive: false });
      await ctx.users.bulkUpdateUsers([id], { isActive: true });
      expect(await warnedAt(id)).toBeNull();
    });
  });

  describe('index use', () => {
    beforeAll(async () => {
      await seedUsers(ctx, 5000, { createdAtSql: `now() - n * interval '1 hour'` });
      await ctx.sql(`UPDATE users SET last_login_at = created_at + interval '1 day' WHERE full_name LIKE 'Seed User %' AND random() < 0.5`);
      await ctx.sql('VACUUM ANALYZE users');
    });

    it('serves a dormant page (in index order, no sort) and a count of a third of the users from IDX_users_live_last_seen', async () => {
      const first = await ctx.users.listDormantUsers({ inactiveForDays: 30, limit: 20 });
      expect(first.items).toHaveLength(20);
      const { queries: pages } = await captureQueries(ctx, () => ctx.users.listDormantUsers({ inactiveForDays: 30, after: first.nextCursor, limit: 20 }));
      const { result: count, queries: counts } = await captureQueries(ctx, () => ctx.users.countDormantUsers({ inactiveForDays: 180 }));
      expect(count).toBeGreaterThan(0);
      expect(pages).toHaveLength(1);
      expect(await explain(ctx, pages[0])).toMatch(/^Limit[^\n]*\n\s*->\s+Index Scan using "?IDX_users_live_last_seen/);
      // A count of many users reads the index alone: it carries the columns last seen is made of.
      expect(counts).toHaveLength(1);
      const plan = await explain(ctx, counts[0]);
      expect(plan).toMatch(/Index Only Scan using "?IDX_users_live_last_seen/);
      expect(plan).not.toMatch(/Seq Scan|Sort/);
    });
  });
});
