import { UserNotFoundError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';

describe('UsersRepository reads', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  it('creates and reads a user without its hash', async () => {
    const user = await ctx.users.createUserWithValidation('  Alice@Example.COM ', 'correct horse battery');
    expect(user.email).toBe('Alice@Example.COM');
    expect(user).not.toHaveProperty('hashedPassword');
    await expect(ctx.users.getUserById(user.id)).resolves.toEqual(user);
    await expect(ctx.users.safeGetUserById('00000000-0000-0000-0000-000000000000')).rejects.toBeInstanceOf(UserNotFoundError);
    await expect(ctx.users.getUserById('not-a-uuid')).resolves.toBeNull();
  });

  it('caps the page size and rejects a bad one', async () => {
    await expect(ctx.users.listUsersPaginated(0, 5000)).resolves.toMatchObject({ limit: 1000 });
    await expect(ctx.users.listUsersPaginated(0, 0)).rejects.toBeInstanceOf(UserValidationError);
  });
});
