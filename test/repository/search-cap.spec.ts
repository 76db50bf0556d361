import { SEARCH_TOTAL_CAP } from '../../src/users/repository/user-reads';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { seedUsers } from '../support/user-factory';

// A term matching most of the table must not make every search count the whole table.
describe('search totals', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    await seedUsers(ctx, SEARCH_TOTAL_CAP + 5, { prefix: 'capped' });
  });
  afterAll(() => ctx.close());

  it('are exact up to the cap and marked as a lower bound beyond it', async () => {
    const many = await ctx.users.searchUsersByNameOrEmail('capped', 0, 5);
    expect(many).toMatchObject({ total: SEARCH_TOTAL_CAP, totalCapped: true, offset: 0, limit: 5 });
    expect(many.items).toHaveLength(5);
    const one = await ctx.users.searchUsersByNameOrEmail('capped-17@', 0, 5);
    expect(one.total).toBe(1);
    expect(one).not.toHaveProperty('totalCapped');
  });

  it('leave the other lists exact', async () => {
    await expect(ctx.users.listUsersPaginated(0, 1)).resolves.toMatchObject({ total: SEARCH_TOTAL_CAP + 5 });
  });
});
