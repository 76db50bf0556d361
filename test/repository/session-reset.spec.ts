import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser } from '../support/user-factory';

// With one pooled connection, a session and the prepared point lookups share it: releasing the
// session must reset its state without taking the prepared statements the pool relies on.
describe('a released session', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({ databasePoolMax: 1 });
  });
  afterAll(() => ctx.close());

  it('leaves the prepared lookups of the pooled connection working, and its own state gone', async () => {
    const first = await createUser(ctx.users);
    const second = await createUser(ctx.users);
    await expect(ctx.users.getUserById(first.id)).resolves.toMatchObject({ id: first.id });
    await ctx.users.dbSessionContext(async (session) => {
      await session.query(`SET application_name = 'changed-by-session'`);
      await session.query('CREATE TEMP TABLE scratch (n int)');
    });
    await expect(ctx.users.getUserById(second.id)).resolves.toMatchObject({ id: second.id });
    await expect(ctx.sql(`SELECT current_setting('application_name') AS name, to_regclass('pg_temp.scratch') AS scratch`)).resolves.toEqual([
      { name: 'nest-users', scratch: null },
    ]);
  });
});
