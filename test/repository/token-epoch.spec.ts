import { hashPassword } from '../../src/users/password';
import type { User } from '../../src/users/user.model';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser, uniqueEmail } from '../support/user-factory';

// The token epoch that access tokens carry: drawn at insert, rotated (by a trigger) on every
// credential change and by endUserSessions, untouched by other writes, never settable by import.
describe('token epoch', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const epochOf = async (id: string) => (await ctx.sql<{ token_epoch: string }>(`SELECT token_epoch::text FROM users WHERE id = $1`, [id]))[0]?.token_epoch;

  it.each<[string, (users: RepositoryContext['users'], user: User) => Promise<unknown>]>([
    ['a password change', async (users, u) => users.changeUserPassword(u.id, await hashPassword('another long passphrase'))],
    ['deactivation', (users, u) => users.deactivateUser(u.id)],
    ['a role change', (users, u) => users.assignRoleToUser(u.id, 'support')],
    ['a soft delete', (users, u) => users.softDeleteUser(u.id)],
    ['a bulk deactivation', (users, u) => users.bulkUpdateUsers([u.id], { isActive: false })],
    ['an import update of roles', (users, u) => users.importUsersFromDicts([{ email: u.email, roles: ['user', 'admin'] }], { onConflict: 'update' })],
    ['anonymization', (users, u) => users.anonymizeUser(u.id)],
    ['endUserSessions (logout)', (users, u) => users.endUserSessions(u.id)],
  ])('rotates on %s', async (_change, change) => {
    const user = await createUser(ctx.users);
    const before = await epochOf(user.id);
    await change(ctx.users, user);
    expect(await epochOf(user.id)).not.toBe(before);
  });

  it('does not rotate on profile changes or a login', async () => {
    const user = await createUser(ctx.users);
    const before = await epochOf(user.id);
    await ctx.users.partialUpdateUser(user.id, { fullName: 'Renamed', metadata: { plan: 'pro' } });
    await ctx.users.updateLastLogin(user.id);
    expect(await epochOf(user.id)).toBe(before);
  });

  it('is served to the auth guard only: getUserAuthState has it, every other read does not', async () => {
    const user = await createUser(ctx.users);
    const state = await ctx.users.getUserAuthState(user.id);
    expect(state?.tokenEpoch).toBe(await epochOf(user.id));
    expect(await ctx.users.getUserAuthState(user.id)).toEqual(state); // from the cache
    expect(await ctx.users.getUserById(user.id)).not.toHaveProperty('tokenEpoch');
    expect((await ctx.users.getUsersByIds([user.id]))[0]).not.toHaveProperty('tokenEpoch');
  });

  it('cannot be given by an import', async () => {
    await expect(
      ctx.users.importUsersFromDicts([{ email: uniqueEmail(), tokenEpoch: '00000000-0000-4000-8000-000000000000' }]),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
