import { randomUUID } from 'node:crypto';
import { UserCache } from '../../src/users/user-cache.service';
import { ErrorCode } from '../../src/errors/domain-error';
import { anonymizedEmail } from '../../src/users/repository/user-privacy';
import { UNUSABLE_PASSWORD } from '../../src/users/user-rules';
import type { User } from '../../src/users/user.model';
import { UserNotFoundError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';

describe('anonymizeUser', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const unique = () => randomUUID().slice(0, 8);

  async function personWithHistory(): Promise<{ user: User; email: string; name: string }> {
    const tag = unique();
    const email = `Zelda.Quux-${tag}@Example.com`;
    const name = `Zelda "Q" Quux-${tag}`;
    const user = await ctx.users.upsertUser(email, { fullName: name, metadata: { city: `Hyrule-${tag}`, nickname: `zq-${tag}` }, roles: ['user', 'editor'] });
    await ctx.users.updateLastLogin(user.id);
    await ctx.users.auditLogUserChange(user.id, 'user.updated', { fields: ['fullName'], note: `was renamed to ${name}` });
    // A row written before the allow-list existed (or by hand) that still names the person.
    await ctx.sql(`INSERT INTO audit_log (user_id, action, details) VALUES ($1, 'legacy.import', $2::jsonb)`, [
      user.id,
      JSON.stringify({ source: 'crm', contact: email.toLowerCase(), fields: ['email'] }),
    ]);
    return { user, email, name };
  }

  // Every text rendering of every row of both tables, searched case-insensitively.
  async function mentions(needle: string): Promise<number> {
    const pattern = `%${needle.replace(/[\\%_]/g, '\\$&')}%`;
    const [{ users }] = await ctx.sql<{ users: number }>(`SELECT count(*)::int AS users FROM users t WHERE t::text ILIKE $1`, [pattern]);
    const [{ audit }] = await ctx.sql<{ audit: number }>(`SELECT count(*)::int AS audit FROM audit_log t WHERE t::text ILIKE $1`, [pattern]);
    return users + audit;
  }

  it('erases the personal data everywhere and leaves a placeholder identity', async () => {
    const { user, email, name } = await personWithHistory();
    await ctx.users.auditLogUserChange(user.id, 'auth.login', { outcome: 'success', clientAddress: '198.51.100.23' });
    const tag = email.split('-')[1].split('@')[0];
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ email }); // now cached
    expect(await mentions(email)).toBeGreaterThan(0);
    expect(await mentions(`Quux-${tag}`)).toBeGreaterThan(0);

    await ctx.users.anonymizeUser(user.id);

    const [row] = await ctx.sql<Record<string, unknown>>(`SELECT * FROM users WHERE id = $1`, [user.id]);
    expect(row).toMatchObject({
      email: anonymizedEmail(user.id),
      email_normalized: anonymizedEmail(user.id),
      full_name: null,
      metadata: {},
      hashed_password: UNUSABLE_PASSWORD,
      last_login_at: null,
      is_active: false,
      is_deleted: true,
      deleted_at: expect.any(Date),
      anonymized_at: expect.any(Date),
      version: user.version + 1,
    });
    expect(anonymizedEmail(user.id)).toMatch(/@anonymized\.invalid$/);
    for (const needle of [email, email.toLowerCase(), name, `Quux-${tag}`, `zq-${tag}`, `Hyrule-${tag}`]) {
      expect(await mentions(needle)).toBe(0);
    }

    // Cache and reads: the entry is gone, the user is invisible, and with deleted rows shows only the placeholder.
    await expect(ctx.module.get(UserCache).get(user.id)).resolves.toBeUndefined();
    await expect(ctx.users.getUserById(user.id)).resolves.toBeNull();
    await expect(ctx.users.getUserById(user.id, { withDeleted: true })).resolves.toMatchObject({ email: anonymizedEmail(user.id), fullName: null });
    await expect(ctx.users.searchUsersByNameOrEmail(`Quux-${tag}`, 0, 10, { withDeleted: true })).resolves.toMatchObject({ total: 0 });
    await expect(ctx.users.getCredentialsById(user.id)).resolves.toBeNull();

    // History: free text, client addresses and rows naming the person are scrubbed; the erasure itself is recorded.
    const history = await ctx.users.getAuditLog(user.id);
    expect(history.items.map((e) => [e.action, e.details])).toEqual([
      ['user.anonymized', { outcome: 'success' }],
      ['auth.login', { outcome: 'success' }],
      ['legacy.import', { redacted: true }],
      ['user.updated', { fields: ['fullName'] }],
    ]);
  });

  it('exports, even of deleted users, carry only the placeholder', async () => {
    const { user, email, name } = await personWithHistory();
    await ctx.users.anonymizeUser(user.id);
    for (const stream of [await ctx.users.exportUsersToCsv({ withDeleted: true }), await ctx.users.exportUsersToJson({ withDeleted: true })]) {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      const text = Buffer.concat(chunks).toString('utf8').toLowerCase();
      expect(text).toContain(anonymizedEmail(user.id));
      expect(text).not.toContain(email.toLowerCase());
      expect(text).not.toContain(name.split(' ').at(-1)!.toLowerCase());
    }
  });

  it('cannot be undone: restoreUser refuses an anonymized user', async () => {
    const { user } = await personWithHistory();
    await ctx.users.anonymizeUser(user.id);
    await expect(ctx.users.restoreUser(user.id)).rejects.toBeInstanceOf(UserValidationError);
    await expect(ctx.users.getUserById(user.id)).resolves.toBeNull();
  });

  it('is idempotent: a second call changes nothing and records nothing', async () => {
    const { user } = await personWithHistory();
    await ctx.users.anonymizeUser(user.id);
    const [before] = await ctx.sql<{ version: number; anonymized_at: Date }>(`SELECT version, anonymized_at FROM users WHERE id = $1`, [user.id]);
    await expect(ctx.users.anonymizeUser(user.id)).resolves.toBeUndefined();
    const [after] = await ctx.sql<{ version: number; anonymized_at: Date }>(`SELECT version, anonymized_at FROM users WHERE id = $1`, [user.id]);
    expect(after).toEqual(before);
    const rows = await ctx.sql(`SELECT 1 FROM audit_log WHERE user_id = $1 AND action = 'user.anonymized'`, [user.id]);
    expect(rows).toHaveLength(1);
  });

  it('serializes concurrent calls for one user into one erasure', async () => {
    const { user } = await personWithHistory();
    await Promise.all([ctx.users.anonymizeUser(user.id), ctx.users.anonymizeUser(user.id), ctx.users.anonymizeUser(user.id)]);
    const rows = await ctx.sql(`SELECT 1 FROM audit_log WHERE user_id = $1 AND action = 'user.anonymized'`, [user.id]);
    expect(rows).toHaveLength(1);
  });

  it('keeps the soft-delete time of a user deleted earlier, and frees the address for a new account', async () => {
    const { user, email } = await personWithHistory();
    const deleted = await ctx.users.softDeleteUser(user.id);
    await ctx.users.anonymizeUser(user.id);
    const [row] = await ctx.sql<{ deleted_at: Date }>(`SELECT deleted_at FROM users WHERE id = $1`, [user.id]);
    expect(row.deleted_at).toEqual(deleted.deletedAt);
    const again = await ctx.users.upsertUser(email);
    expect(again.id).not.toBe(user.id);
  });

  it('leaves other users and their history alone', async () => {
    const target = await personWithHistory();
    const bystander = await personWithHistory();
    await ctx.users.anonymizeUser(target.user.id);
    await expect(ctx.users.getUserById(bystander.user.id)).resolves.toMatchObject({ email: bystander.email, fullName: bystander.name });
    const history = await ctx.users.getAuditLog(bystander.user.id);
    expect(history.items.map((e) => e.action)).toEqual(['legacy.import', 'user.updated']);
    expect(history.items[1].details).toMatchObject({ note: expect.stringContaining('renamed') });
  });

  it('throws USER_NOT_FOUND for an unknown or malformed id', async () => {
    await expect(ctx.users.anonymizeUser(randomUUID())).rejects.toBeInstanceOf(UserNotFoundError);
    await expect(ctx.users.anonymizeUser('not-a-uuid')).rejects.toMatchObject({ code: ErrorCode.USER_NOT_FOUND });
  });

  it('rolls back completely when the surrounding transaction fails', async () => {
    const { user, email } = await personWithHistory();
    await expect(
      ctx.users.dbTransaction(async () => {
        await ctx.users.anonymizeUser(user.id);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ email, isActive: true });
    const history = await ctx.users.getAuditLog(user.id);
    expect(history.items.map((e) => e.action)).toEqual(['legacy.import', 'user.updated']);
  });
});
