import { randomUUID } from 'node:crypto';
import { UserCache } from '../../src/users/user-cache.service';
import { hashPassword } from '../../src/users/password';
import type { User } from '../../src/users/user.model';
import { UserAlreadyExistsError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

const BCRYPT_HASH = '$2b$07$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';
const HASH_VALUE = /^\$argon2|^\$2[aby]\$/;
const HASH_KEY = /^(hashedPassword|hashed_password)$/;

// Paths of every value that looks like a password hash or sits under a hash-named key.
function hashLeaks(value: unknown, path = '$'): string[] {
  if (typeof value === 'string') return HASH_VALUE.test(value) ? [path] : [];
  if (value === null || typeof value !== 'object' || value instanceof Date) return [];
  return Object.entries(value).flatMap(([key, child]) => [...(HASH_KEY.test(key) ? [`${path}.${key}`] : []), ...hashLeaks(child, `${path}.${key}`)]);
}

describe('UsersRepository cache-aside', () => {
  let ctx: RepositoryContext;
  let cache: UserCache;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    cache = ctx.module.get(UserCache, { strict: false });
  });
  afterAll(() => ctx.close());

  // The user as PostgreSQL has it now, bypassing the cache (withDeleted never reads it).
  async function truth(id: string): Promise<User | null> {
    const user = await ctx.users.getUserById(id, { withDeleted: true });
    return user && !user.isDeleted ? user : null;
  }

  async function cachedUser(overrides = {}): Promise<User> {
    const user = await createUser(ctx.users, overrides);
    await ctx.users.getUserById(user.id);
    await expect(cache.get(user.id)).resolves.toEqual(user);
    return user;
  }

  it('serves reads from the cache once populated', async () => {
    const user = await cachedUser({ fullName: 'Cached' });
    // A change behind the repository's back is not seen until the entry goes: proof that the
    // tests below exercise the cache, not the database.
    await ctx.sql(`UPDATE users SET full_name = 'Behind its back' WHERE id = $1`, [user.id]);
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'Cached' });
    await expect(ctx.users.safeGetUserById(user.id)).resolves.toMatchObject({ fullName: 'Cached' });
  });

  describe('never serves a stale user after a write', () => {
    const writes: [string, (user: User) => Promise<unknown>, Record<string, unknown>?][] = [
      ['partialUpdateUser (fullName)', (u) => ctx.users.partialUpdateUser(u.id, { fullName: 'Changed' })],
      ['partialUpdateUser (email)', (u) => ctx.users.partialUpdateUser(u.id, { email: uniqueEmail('moved') })],
      ['partialUpdateUser (expectedVersion)', (u) => ctx.users.partialUpdateUser(u.id, { isActive: false }, { expectedVersion: u.version })],
      ['upsertUser', (u) => ctx.users.upsertUser(u.email, { fullName: 'Upserted', roles: ['user', 'editor'] })],
      ['upsertUserReportingCreation', (u) => ctx.users.upsertUserReportingCreation(u.email.toUpperCase(), { metadata: { plan: 'pro' } })],
      ['softDeleteUser', (u) => ctx.users.softDeleteUser(u.id)],
      ['deactivateUser', (u) => ctx.users.deactivateUser(u.id)],
      ['reactivateUser', (u) => ctx.users.reactivateUser(u.id), { isActive: false }],
      ['updateLastLogin', (u) => ctx.users.updateLastLogin(u.id, new Date('2026-01-02T03:04:05Z'))],
      ['changeUserPassword', async (u) => ctx.users.changeUserPassword(u.id, BCRYPT_HASH)],
      ['assignRoleToUser', (u) => ctx.users.assignRoleToUser(u.id, 'editor')],
      ['revokeRoleFromUser', (u) => ctx.users.revokeRoleFromUser(u.id, 'editor'), { roles: ['user', 'editor'] }],
      ['bulkUpdateUsers', (u) => ctx.users.bulkUpdateUsers([u.id], { fullName: 'Bulk', metadata: { bulk: true } })],
      ['bulkDeleteUsers', (u) => ctx.users.bulkDeleteUsers([u.id])],
      ['dbTransaction around a write', (u) => ctx.users.dbTransaction(() => ctx.users.partialUpdateUser(u.id, { fullName: 'In a transaction' }))],
      [
        'dbTransaction around several writes',
        (u) =>
          ctx.users.dbTransaction(async () => {
            await ctx.users.assignRoleToUser(u.id, 'editor');
            await ctx.users.bulkUpdateUsers([u.id], { fullName: 'Nested bulk' });
            await ctx.users.deactivateUser(u.id);
          }),
      ],
    ];

    it.each(writes)('%s', async (_name, write, overrides = {}) => {
      const user = await cachedUser({ fullName: 'Before', ...overrides });
      await write(user);
      const expected = await truth(user.id);
      await expect(ctx.users.getUserById(user.id)).resolves.toEqual(expected);
      expect(expected).not.toEqual(user);
    });

    it('restoreUser', async () => {
      const user = await cachedUser();
      await ctx.users.softDeleteUser(user.id);
      await expect(ctx.users.getUserById(user.id)).resolves.toBeNull();
      const restored = await ctx.users.restoreUser(user.id);
      await expect(ctx.users.getUserById(user.id)).resolves.toEqual(restored);
    });

    it('a user read as missing is not remembered as missing', async () => {
      // A fresh id: with Redis the cache outlives this test's database.
      const id = randomUUID();
      await expect(ctx.users.getUserById(id)).resolves.toBeNull();
      await ctx.sql(`INSERT INTO users (id, email, email_normalized, hashed_password) VALUES ($1, $2, $2, '!')`, [id, uniqueEmail()]);
      await expect(ctx.users.getUserById(id)).resolves.toMatchObject({ id });
    });

    it('a read that loaded the row before a write committed cannot leave the old row cached', async () => {
      const user = await createUser(ctx.users, { fullName: 'Old' });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let paused!: () => void;
      const reachedSet = new Promise<void>((resolve) => (paused = resolve));
      const set = cache.set.bind(cache);
      // Holds the reader between its SELECT and its cache fill, the classic cache-aside race.
      const spy = jest.spyOn(cache, 'set').mockImplementationOnce(async (u) => {
        paused();
        await released;
        return set(u);
      });
      try {
        const slowRead = ctx.users.getUserById(user.id);
        await reachedSet;
        await ctx.users.partialUpdateUser(user.id, { fullName: 'New' });
        release();
        await expect(slowRead).resolves.toMatchObject({ fullName: 'Old' });
      } finally {
        spy.mockRestore();
      }
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'New' });
    });

    it('a write that fails leaves a correct entry', async () => {
      const user = await cachedUser();
      const taken = await createUser(ctx.users);
      await expect(ctx.users.partialUpdateUser(user.id, { email: taken.email })).rejects.toBeInstanceOf(UserAlreadyExistsError);
      await expect(ctx.users.getUserById(user.id)).resolves.toEqual(await truth(user.id));
    });
  });

  describe('transactions', () => {
    it('caches nothing read inside a transaction', async () => {
      const user = await createUser(ctx.users);
      await ctx.users.dbTransaction(async () => {
        await expect(ctx.users.getUserById(user.id)).resolves.toEqual(user);
      });
      await expect(cache.get(user.id)).resolves.toBeUndefined();
    });

    it('never caches a rolled-back change', async () => {
      const user = await cachedUser({ fullName: 'Committed' });
      await expect(
        ctx.users.dbTransaction(async () => {
          await ctx.users.partialUpdateUser(user.id, { fullName: 'Rolled back' });
          await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'Rolled back' });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'Committed', version: user.version });
      await expect(cache.get(user.id)).resolves.not.toMatchObject({ fullName: 'Rolled back' });
    });

    it('invalidates after commit, so a read racing the transaction cannot re-cache the old row', async () => {
      const user = await cachedUser({ fullName: 'Old' });
      await cache.delete([user.id]);
      let startRead!: () => void;
      const started = new Promise<void>((resolve) => (startRead = resolve));
      // Started outside the transaction, so it reads (and may cache) the committed row.
      const racingRead = (async () => {
        await started;
        return ctx.users.getUserById(user.id);
      })();
      await ctx.users.dbTransaction(async () => {
        await ctx.users.partialUpdateUser(user.id, { fullName: 'New' });
        startRead();
        await expect(racingRead).resolves.toMatchObject({ fullName: 'Old' });
      });
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'New' });
    });
  });

  describe('no returned object holds a password hash', () => {
    it('from any read or write, nor in the cache; only the credentials reads carry it', async () => {
      const argon = await factoryPasswordHash();
      const created = await ctx.users.createUserWithValidation(uniqueEmail('leak'), 'long enough password', { fullName: 'Leak Check' });
      const bcryptUser = await createUser(ctx.users, { hashedPassword: BCRYPT_HASH, fullName: 'Leak Check', metadata: { plan: 'leak' } });
      await ctx.sql(`INSERT INTO files (user_id, filename, content_type, size_bytes) VALUES ($1, 'f.txt', 'text/plain', 1)`, [created.id]);
      const other = await createUser(ctx.users, { hashedPassword: argon });
      const start = new Date(Date.now() - 3_600_000);
      const end = new Date(Date.now() + 3_600_000);

      const results: Record<string, unknown> = {
        createUserWithValidation: created,
        getUserById: await ctx.users.getUserById(created.id),
        getUserByIdCached: await ctx.users.getUserById(created.id),
        cacheEntry: await cache.get(created.id),
        getUserByIdWithDeleted: await ctx.users.getUserById(created.id, { withDeleted: true }),
        safeGetUserById: await ctx.users.safeGetUserById(bcryptUser.id),
        getUsersByIds: await ctx.users.getUsersByIds([created.id, bcryptUser.id]),
        listUsersPaginated: await ctx.users.listUsersPaginated(0, 1000, { withDeleted: true }),
        listUsersAfter: await ctx.users.listUsersAfter(null, 1000),
        searchUsersByNameOrEmail: await ctx.users.searchUsersByNameOrEmail('leak check'),
        filterUsersByStatus: await ctx.users.filterUsersByStatus(true),
        getActiveUsers: await ctx.users.getActiveUsers(),
        getInactiveUsers: await ctx.users.getInactiveUsers(),
        filterUsersByRole: await ctx.users.filterUsersByRole('user'),
        getUsersCreatedWithin: await ctx.users.getUsersCreatedWithin(start, end),
        getUsersByCustomField: await ctx.users.getUsersByCustomField('plan', 'leak'),
        getUserWithFiles: await ctx.users.getUserWithFiles(created.id),
        upsertUser: await ctx.users.upsertUser(created.email, { hashedPassword: await hashPassword('another password') }),
        upsertUserReportingCreation: await ctx.users.upsertUserReportingCreation(uniqueEmail(), { hashedPassword: BCRYPT_HASH }),
        partialUpdateUser: await ctx.users.partialUpdateUser(bcryptUser.id, { fullName: 'Leak Check 2' }),
        changeUserPassword: await ctx.users.changeUserPassword(other.id, BCRYPT_HASH),
        updateLastLogin: await ctx.users.updateLastLogin(other.id),
        assignRoleToUser: await ctx.users.assignRoleToUser(other.id, 'editor'),
        revokeRoleFromUser: await ctx.users.revokeRoleFromUser(other.id, 'editor'),
        deactivateUser: await ctx.users.deactivateUser(other.id),
        reactivateUser: await ctx.users.reactivateUser(other.id),
        softDeleteUser: await ctx.users.softDeleteUser(other.id),
        restoreUser: await ctx.users.restoreUser(other.id),
        bulkCreateUsers: await ctx.users.bulkCreateUsers([
          { email: uniqueEmail(), hashedPassword: argon },
          { email: uniqueEmail(), hashedPassword: BCRYPT_HASH },
        ]),
        bulkUpdateUsers: await ctx.users.bulkUpdateUsers([created.id, bcryptUser.id], { metadata: { checked: true } }),
      };
      expect(hashLeaks(results)).toEqual([]);
      expect((results.listUsersPaginated as { items: unknown[] }).items.length).toBeGreaterThan(3);

      // The checker does find a hash where one is meant to be.
      const credentials = [await ctx.users.getCredentialsByEmail(bcryptUser.email), await ctx.users.getCredentialsById(created.id)];
      expect(hashLeaks(credentials)).toEqual(['$.0.hashedPassword', '$.0.hashedPassword', '$.1.hashedPassword', '$.1.hashedPassword']);
    });
  });
});
