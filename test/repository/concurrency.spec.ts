import type { User } from '../../src/users/user.model';
import { ConcurrentUpdateError, UserAlreadyExistsError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

const CALLS = 20;

// Every case runs its calls at once on the context's pool (5 connections): real parallel
// transactions on PostgreSQL, with the unique index and row locks deciding.
describe('UsersRepository under concurrency', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const rowsFor = async (email: string) =>
    ctx.sql<{ id: string; version: number }>(`SELECT id, version FROM users WHERE email_normalized = $1 AND deleted_at IS NULL`, [email.toLowerCase()]);

  function outcomes<T>(results: PromiseSettledResult<T>[]) {
    const fulfilled = results.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled').map((r) => r.value);
    const reasons = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    return { fulfilled, reasons };
  }

  it(`${CALLS} concurrent creations of one address: exactly one succeeds, the others get already-exists`, async () => {
    const email = uniqueEmail('race');
    const spellings = [email, email.toUpperCase(), ` ${email} `];
    const results = await Promise.allSettled(
      Array.from({ length: CALLS }, (_, i) => ctx.users.createUserWithValidation(spellings[i % spellings.length], 'long enough password')),
    );
    const { fulfilled, reasons } = outcomes(results);
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toHaveLength(CALLS - 1);
    for (const reason of reasons) {
      expect(reason).toBeInstanceOf(UserAlreadyExistsError);
      expect((reason as UserAlreadyExistsError).emails).toEqual([email]);
    }
    await expect(rowsFor(email)).resolves.toEqual([{ id: fulfilled[0].id, version: 1 }]);
  });

  it(`${CALLS} concurrent upserts of one address give one row and no error`, async () => {
    const email = uniqueEmail('upsert');
    const results = await Promise.allSettled(
      Array.from({ length: CALLS }, (_, i) => ctx.users.upsertUser(i % 2 ? email.toUpperCase() : email, i % 3 ? {} : { fullName: `Name ${i}` })),
    );
    const { fulfilled, reasons } = outcomes(results);
    expect(reasons).toEqual([]);
    expect(new Set(fulfilled.map((u) => u.id)).size).toBe(1);
    const rows = await rowsFor(email);
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(fulfilled[0].id);
  });

  it('concurrent updates with one expected version: exactly one wins, the rest get VERSION_CONFLICT', async () => {
    const user = await createUser(ctx.users);
    const results = await Promise.allSettled(
      Array.from({ length: CALLS }, (_, i) => ctx.users.partialUpdateUser(user.id, { fullName: `Writer ${i}` }, { expectedVersion: user.version })),
    );
    const { fulfilled, reasons } = outcomes(results);
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toHaveLength(CALLS - 1);
    for (const reason of reasons) expect(reason).toBeInstanceOf(ConcurrentUpdateError);
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: fulfilled[0].fullName, version: user.version + 1 });
  });

  it('concurrent updates without an expected version all apply, each bumping version once', async () => {
    const user = await createUser(ctx.users);
    const results = await Promise.all(Array.from({ length: CALLS }, (_, i) => ctx.users.partialUpdateUser(user.id, { metadata: { writer: i } })));
    expect(new Set(results.map((u) => u.version)).size).toBe(CALLS);
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ version: user.version + CALLS });
  });

  it('concurrent assignments of one role add it once and bump version once', async () => {
    const user = await createUser(ctx.users);
    await Promise.all(Array.from({ length: CALLS }, () => ctx.users.assignRoleToUser(user.id, 'editor')));
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ roles: ['user', 'editor'], version: user.version + 1 });
    await Promise.all(Array.from({ length: CALLS }, () => ctx.users.deactivateUser(user.id)));
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ isActive: false, version: user.version + 2 });
  });

  it('two users racing to one new email: one gets it, the other already-exists', async () => {
    const [a, b] = await Promise.all([createUser(ctx.users), createUser(ctx.users)]);
    const target = uniqueEmail('target');
    const { fulfilled, reasons } = outcomes(
      await Promise.allSettled([ctx.users.partialUpdateUser(a.id, { email: target }), ctx.users.partialUpdateUser(b.id, { email: target.toUpperCase() })]),
    );
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toEqual([expect.any(UserAlreadyExistsError)]);
    await expect(rowsFor(target)).resolves.toEqual([{ id: fulfilled[0].id, version: expect.any(Number) }]);
  });

  it('two soft-deleted holders of one email restored at once: one comes back, the other already-exists', async () => {
    const email = uniqueEmail('restore');
    const first = await createUser(ctx.users, { email });
    await ctx.users.softDeleteUser(first.id);
    const second = await createUser(ctx.users, { email });
    await ctx.users.softDeleteUser(second.id);
    const { fulfilled, reasons } = outcomes(await Promise.allSettled([ctx.users.restoreUser(first.id), ctx.users.restoreUser(second.id)]));
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toEqual([expect.any(UserAlreadyExistsError)]);
    await expect(rowsFor(email)).resolves.toHaveLength(1);
  });

  it('overlapping bulk creations: one batch commits whole, the other writes nothing', async () => {
    const hash = await factoryPasswordHash();
    const shared = uniqueEmail('shared');
    const batch = (): { email: string; hashedPassword: string }[] => [
      ...Array.from({ length: 200 }, () => ({ email: uniqueEmail('batch'), hashedPassword: hash })),
      { email: shared, hashedPassword: hash },
    ];
    const batches = Array.from({ length: 4 }, batch);
    const results = await Promise.allSettled(batches.map((b) => ctx.users.bulkCreateUsers(b)));
    const { fulfilled, reasons } = outcomes<User[]>(results);
    expect(fulfilled).toHaveLength(1);
    expect(reasons).toHaveLength(3);
    for (const reason of reasons) expect(reason).toBeInstanceOf(UserAlreadyExistsError);
    const [{ n }] = await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email_normalized = ANY($1::text[])`, [
      batches.flat().map((u) => u.email),
    ]);
    expect(n).toBe(201);
  });
});
