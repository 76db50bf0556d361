import { UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

// Issue items 9 and 10 on the repository API, the door sibling modules use.
describe('UsersRepository identity rules', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e,
    );
  }

  describe('metadata keys (item 10)', () => {
    // JSON.parse makes __proto__ an ordinary own key, as a CSV cell or a message payload would.
    it.each([
      ['__proto__ nested', '{"prefs":{"__proto__":{"isAdmin":true}}}', 'prefs.__proto__'],
      ['constructor in an array', '{"list":[{"constructor":{"prototype":{}}}]}', 'list.0.constructor'],
      ['prototype at the top', '{"prototype":1}', 'prototype'],
    ])('refuses %s on every write, naming where it is', async (_, json, where) => {
      const metadata = JSON.parse(json) as Record<string, unknown>;
      const user = await createUser(ctx.users);
      const hashedPassword = await factoryPasswordHash();
      const attempts = [
        ctx.users.partialUpdateUser(user.id, { metadata }),
        ctx.users.bulkUpdateUsers([user.id], { metadata }),
        ctx.users.upsertUser(user.email, { metadata }),
        ctx.users.bulkCreateUsers([{ email: uniqueEmail('key'), hashedPassword, metadata }]),
        ctx.users.importUsersFromDicts([{ email: uniqueEmail('key'), metadata: json }]),
      ];
      for (const error of await Promise.all(attempts.map(rejection))) {
        expect(error).toBeInstanceOf(UserValidationError);
        expect((error as UserValidationError).issues).toEqual([expect.objectContaining({ field: 'metadata', reason: expect.stringContaining(` at ${where} `) })]);
      }
      await expect(ctx.users.safeGetUserById(user.id)).resolves.toMatchObject({ version: user.version, metadata: {} });
    });
  });
});
