import type * as argon2 from '@node-rs/argon2';
import { ErrorCode } from '../../src/errors/domain-error';
import { hashPassword, verifyPassword } from '../../src/users/password';
import type { User, UserPatch } from '../../src/users/user.model';
import { ConcurrentUpdateError, UserAlreadyExistsError, UserNotFoundError, UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const ARGON2ID_OWASP_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const BCRYPT_HASH = '$2b$07$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';

describe('UsersRepository writes', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const storedHash = async (id: string) =>
    (await ctx.sql<{ hashed_password: string }>(`SELECT hashed_password FROM users WHERE id = $1`, [id]))[0].hashed_password;
  const rowCount = async (emailNormalized: string) =>
    (await ctx.sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email_normalized = $1`, [emailNormalized]))[0].n;

  // Rejects with a validation error whose issues name `field`.
  async function expectInvalid(promise: Promise<unknown>, field: string): Promise<void> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserValidationError);
    expect((error as UserValidationError).issues.map((i) => i.field)).toContain(field);
  }

  describe('createUserWithValidation', () => {
    it('stores the canonical email and an argon2id hash (OWASP parameters), and returns no hash', async () => {
      const email = `  New.${uniqueEmail()}  `;
      const user = await ctx.users.createUserWithValidation(email, 'correct horse battery', { fullName: 'New User' });
      expect(user).toMatchObject({ email: email.trim(), fullName: 'New User', isActive: true, isDeleted: false, roles: ['user'], version: 1 });
      expect(user).not.toHaveProperty('hashedPassword');
      const [row] = await ctx.sql<{ email_normalized: string; hashed_password: string }>(
        `SELECT email_normalized, hashed_password FROM users WHERE id = $1`,
        [user.id],
      );
      expect(row.email_normalized).toBe(email.trim().toLowerCase());
      expect(row.hashed_password.startsWith(ARGON2ID_OWASP_PREFIX)).toBe(true);
      await expect(verifyPassword(row.hashed_password, 'correct horse battery')).resolves.toBe(true);
    });

    it('accepts passwords of 8 and 128 characters and rejects 7 and 129, before hashing', async () => {
      await expect(ctx.users.createUserWithValidation(uniqueEmail(), 'x'.repeat(8))).resolves.toMatchObject({ version: 1 });
      await expect(ctx.users.createUserWithValidation(uniqueEmail(), 'x'.repeat(128))).resolves.toMatchObject({ version: 1 });
      // Counts calls into the argon2 binding that password.ts uses, to prove no hash is computed.
      const hash = jest.spyOn(jest.requireActual<typeof argon2>('@node-rs/argon2'), 'hash');
      try {
        for (const password of ['x'.repeat(7), 'x'.repeat(129), '', 12345678 as unknown as string]) {
          const email = uniqueEmail();
          await expectInvalid(ctx.users.createUserWithValidation(email, password), 'password');
          await expect(rowCount(email)).resolves.toBe(0);
        }
        expect(hash).not.toHaveBeenCalled();
        await ctx.users.createUserWithValidation(uniqueEmail(), 'long enough password');
        expect(hash).toHaveBeenCalledTimes(1);
      } finally {
        hash.mockRestore();
      }
    });

    it('splits into prepareNewUser, which validates and hashes, and insertNewUser, which only writes', async () => {
      await expectInvalid(ctx.users.prepareNewUser(uniqueEmail(), 'short'), 'password');
      const hash = jest.spyOn(jest.requireActual<typeof argon2>('@node-rs/argon2'), 'hash');
      try {
        const email = uniqueEmail();
        const prepared = await ctx.users.prepareNewUser(email, 'correct horse battery', { fullName: 'Two Steps' });
        expect(hash).toHaveBeenCalledTimes(1);
        await expect(rowCount(email)).resolves.toBe(0);
        // The insert joins the caller's transaction: a later throw there takes it back.
        const rolledBack = ctx.users.dbTransaction(async () => {
          await ctx.users.insertNewUser(prepared);
          throw new Error('later step failed');
        });
        await expect(rolledBack).rejects.toThrow('later step failed');
        await expect(rowCount(email)).resolves.toBe(0);
        const user = await ctx.users.insertNewUser(prepared);
        expect(user).toMatchObject({ email, fullName: 'Two Steps', version: 1 });
        expect(hash).toHaveBeenCalledTimes(1);
        await expect(verifyPassword(await storedHash(user.id), 'correct horse battery')).resolves.toBe(true);
      } finally {
        hash.mockRestore();
      }
    });

    it('reports every invalid field at once', async () => {
      const error = await ctx.users.createUserWithValidation('not-an-email', 'short', { fullName: 'x'.repeat(201) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserValidationError);
      expect((error as UserValidationError).issues.map((i) => i.field).sort()).toEqual(['email', 'fullName', 'password']);
      expect(error).toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
    });

    it('rejects control characters, two @ and over-long addresses', async () => {
      for (const email of ['bo\u0000b@example.com', 'bo\u0007b@example.com', 'a@b@example.com', 'zw\u200bj@example.com', `${'a'.repeat(243)}@example.com`]) {
        await expectInvalid(ctx.users.createUserWithValidation(email, 'long enough password'), 'email');
      }
    });

    it('throws already-exists with the canonical email for a duplicate, lookalikes included', async () => {
      const original = await ctx.users.createUserWithValidation('alice@writes.example', 'long enough password');
      for (const email of ['alice@writes.example', 'ALICE@Writes.Example', ' alice@writes.example ', 'ＡＬＩＣＥ@writes.example']) {
        const error = await ctx.users.createUserWithValidation(email, 'long enough password').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UserAlreadyExistsError);
        expect(error).toMatchObject({ code: ErrorCode.USER_ALREADY_EXISTS, emails: ['alice@writes.example'] });
      }
      // Dotless ı is another letter, so another account.
      const dotless = await ctx.users.createUserWithValidation('alıce@writes.example', 'long enough password');
      expect(dotless.id).not.toBe(original.id);
      await expect(rowCount('alice@writes.example')).resolves.toBe(1);
    });

    it('lets a new user take the email of a soft-deleted one', async () => {
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      const again = await ctx.users.createUserWithValidation(gone.email, 'long enough password');
      expect(again.id).not.toBe(gone.id);
    });
  });

  describe('upsertUser', () => {
    it('creates with the defaults, then updates only the defaults given', async () => {
      const email = uniqueEmail();
      const first = await ctx.users.upsertUserReportingCreation(email, { fullName: 'First', isActive: false, roles: ['editor'], metadata: { a: 1 } });
      expect(first.created).toBe(true);
      expect(first.user).toMatchObject({ email, fullName: 'First', isActive: false, roles: ['editor'], metadata: { a: 1 }, version: 1 });

      const second = await ctx.users.upsertUserReportingCreation(email.toUpperCase(), { fullName: 'Second' });
      expect(second.created).toBe(false);
      expect(second.user).toMatchObject({ id: first.user.id, email, fullName: 'Second', isActive: false, roles: ['editor'], metadata: { a: 1 }, version: 2 });

      const untouched = await ctx.users.upsertUser(email);
      expect(untouched).toMatchObject({ id: first.user.id, fullName: 'Second', version: 2 });
      await expect(rowCount(email)).resolves.toBe(1);
    });

    it('stores an unusable password unless a hash is given, and refuses plaintext', async () => {
      const plain = await ctx.users.upsertUser(uniqueEmail());
      expect(await storedHash(plain.id)).not.toMatch(/^\$/);
      await expect(verifyPassword(await storedHash(plain.id), '!')).resolves.toBe(false);
      const hash = await factoryPasswordHash();
      const hashed = await ctx.users.upsertUser(uniqueEmail(), { hashedPassword: hash });
      await expect(storedHash(hashed.id)).resolves.toBe(hash);
      await expectInvalid(ctx.users.upsertUser(uniqueEmail(), { hashedPassword: 'plaintext-password' }), 'hashedPassword');
    });

    it('creates a new live user when only a soft-deleted one holds the email', async () => {
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      const fresh = await ctx.users.upsertUserReportingCreation(gone.email);
      expect(fresh.created).toBe(true);
      expect(fresh.user.id).not.toBe(gone.id);
    });

    it('rejects invalid emails and defaults', async () => {
      await expectInvalid(ctx.users.upsertUser('a@b@example.com'), 'email');
      await expectInvalid(ctx.users.upsertUser(uniqueEmail(), { roles: ['Admin'] }), 'roles');
      await expectInvalid(ctx.users.upsertUser(uniqueEmail(), { metadata: [] as unknown as Record<string, unknown> }), 'metadata');
      await expectInvalid(ctx.users.upsertUser(uniqueEmail(), { isActive: 'yes' as unknown as boolean }), 'isActive');
    });
  });

  describe('partialUpdateUser', () => {
    let user: User;
    beforeEach(async () => {
      user = await createUser(ctx.users, { fullName: 'Before', metadata: { keep: true } });
    });

    it('changes only the given fields and bumps version', async () => {
      const updated = await ctx.users.partialUpdateUser(user.id, { fullName: 'After' });
      expect(updated).toEqual({ ...user, fullName: 'After', version: user.version + 1, updatedAt: expect.any(Date) });
      expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(user.updatedAt.getTime());
      const again = await ctx.users.partialUpdateUser(user.id, { isActive: false, metadata: { other: 1 }, fullName: null });
      expect(again).toMatchObject({ email: user.email, fullName: null, isActive: false, metadata: { other: 1 }, version: user.version + 2 });
    });

    it('returns the user unchanged for an empty patch', async () => {
      await expect(ctx.users.partialUpdateUser(user.id, {})).resolves.toEqual(user);
      await expect(ctx.users.partialUpdateUser(user.id, { fullName: undefined })).resolves.toEqual(user);
    });

    it.each(['hashedPassword', 'hashed_password', 'id', 'isDeleted', 'deletedAt', 'roles', 'createdAt', 'updatedAt', 'lastLoginAt', 'version'])(
      'refuses to write %s, naming it',
      async (field) => {
        await expectInvalid(ctx.users.partialUpdateUser(user.id, { [field]: 'x', fullName: 'ignored' }), field);
        await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'Before', version: user.version });
      },
    );

    it('rejects invalid values', async () => {
      await expectInvalid(ctx.users.partialUpdateUser(user.id, { isActive: 'yes' as unknown as boolean }), 'isActive');
      await expectInvalid(ctx.users.partialUpdateUser(user.id, { metadata: { 'bad-key': 1 } }), 'metadata');
      await expectInvalid(ctx.users.partialUpdateUser(user.id, { fullName: 'a\u0000b' }), 'fullName');
      await expectInvalid(ctx.users.partialUpdateUser(user.id, { email: 'a@@example.com' }), 'email');
      await expectInvalid(ctx.users.partialUpdateUser(user.id, null as unknown as UserPatch), 'updateData');
    });

    it('changes the email, keeps it canonical and unique', async () => {
      const email = `Changed.${uniqueEmail()}`;
      const updated = await ctx.users.partialUpdateUser(user.id, { email });
      expect(updated.email).toBe(email);
      await expect(ctx.users.isEmailUnique(email.toLowerCase())).resolves.toBe(false);
      await expect(ctx.users.partialUpdateUser(user.id, { email: email.toUpperCase() })).resolves.toMatchObject({ email: email.toUpperCase() });
      const other = await createUser(ctx.users);
      const error = await ctx.users.partialUpdateUser(user.id, { email: other.email.toUpperCase() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserAlreadyExistsError);
      expect((error as UserAlreadyExistsError).emails).toEqual([other.email.toLowerCase()]);
    });

    it('fails with VERSION_CONFLICT when the expected version is stale', async () => {
      await expect(ctx.users.partialUpdateUser(user.id, { fullName: 'v2' }, { expectedVersion: user.version })).resolves.toMatchObject({
        version: user.version + 1,
      });
      const error = await ctx.users.partialUpdateUser(user.id, { fullName: 'v3' }, { expectedVersion: user.version }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrentUpdateError);
      expect(error).toMatchObject({ code: ErrorCode.VERSION_CONFLICT, expectedVersion: user.version });
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'v2' });
      await expectInvalid(ctx.users.partialUpdateUser(user.id, { fullName: 'x' }, { expectedVersion: 1.5 }), 'expectedVersion');
    });

    it('answers not found for unknown, malformed and soft-deleted ids', async () => {
      await expect(ctx.users.partialUpdateUser(UNKNOWN_ID, { fullName: 'x' })).rejects.toBeInstanceOf(UserNotFoundError);
      await expect(ctx.users.partialUpdateUser(UNKNOWN_ID, { fullName: 'x' }, { expectedVersion: 1 })).rejects.toBeInstanceOf(UserNotFoundError);
      await expect(ctx.users.partialUpdateUser('not-a-uuid', { fullName: 'x' })).rejects.toBeInstanceOf(UserNotFoundError);
      await ctx.users.softDeleteUser(user.id);
      await expect(ctx.users.partialUpdateUser(user.id, { fullName: 'x' })).rejects.toBeInstanceOf(UserNotFoundError);
      await expect(ctx.users.partialUpdateUser(user.id, {})).rejects.toBeInstanceOf(UserNotFoundError);
    });
  });

  describe('softDeleteUser and restoreUser', () => {
    it('soft-deletes and restores, bumping version each time', async () => {
      const user = await createUser(ctx.users);
      const deleted = await ctx.users.softDeleteUser(user.id);
      expect(deleted).toMatchObject({ id: user.id, isDeleted: true, deletedAt: expect.any(Date), version: user.version + 1 });
      await expect(ctx.users.getUserById(user.id)).resolves.toBeNull();
      await expect(ctx.users.softDeleteUser(user.id)).rejects.toBeInstanceOf(UserNotFoundError);
      const restored = await ctx.users.restoreUser(user.id);
      expect(restored).toMatchObject({ id: user.id, isDeleted: false, deletedAt: null, version: user.version + 2 });
      await expect(ctx.users.getUserById(user.id)).resolves.toEqual(restored);
    });

    it('restoring a live user changes nothing', async () => {
      const user = await createUser(ctx.users);
      await expect(ctx.users.restoreUser(user.id)).resolves.toEqual(user);
    });

    it('refuses to restore when a live user now holds the email', async () => {
      const user = await createUser(ctx.users);
      await ctx.users.softDeleteUser(user.id);
      await createUser(ctx.users, { email: user.email.toUpperCase() });
      const error = await ctx.users.restoreUser(user.id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserAlreadyExistsError);
      expect((error as UserAlreadyExistsError).emails).toEqual([user.email.toLowerCase()]);
      await expect(ctx.users.getUserById(user.id, { withDeleted: true })).resolves.toMatchObject({ isDeleted: true });
    });

    it('refuses to restore an anonymized user', async () => {
      const user = await createUser(ctx.users);
      await ctx.users.softDeleteUser(user.id);
      await ctx.sql(`UPDATE users SET anonymized_at = now() WHERE id = $1`, [user.id]);
      await expectInvalid(ctx.users.restoreUser(user.id), 'id');
    });

    it('answers not found for unknown and malformed ids', async () => {
      for (const id of [UNKNOWN_ID, 'not-a-uuid']) {
        await expect(ctx.users.softDeleteUser(id)).rejects.toBeInstanceOf(UserNotFoundError);
        await expect(ctx.users.restoreUser(id)).rejects.toBeInstanceOf(UserNotFoundError);
      }
    });
  });

  describe('deactivateUser, reactivateUser, updateLastLogin', () => {
    it('deactivates and reactivates, bumping version only on a change', async () => {
      const user = await createUser(ctx.users);
      const off = await ctx.users.deactivateUser(user.id);
      expect(off).toMatchObject({ isActive: false, version: user.version + 1 });
      await expect(ctx.users.deactivateUser(user.id)).resolves.toMatchObject({ isActive: false, version: user.version + 1 });
      const on = await ctx.users.reactivateUser(user.id);
      expect(on).toMatchObject({ isActive: true, version: user.version + 2 });
      await expect(ctx.users.reactivateUser(user.id)).resolves.toMatchObject({ isActive: true, version: user.version + 2 });
    });

    it('answers not found for unknown, malformed and soft-deleted ids', async () => {
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      for (const id of [UNKNOWN_ID, 'not-a-uuid', gone.id]) {
        await expect(ctx.users.deactivateUser(id)).rejects.toBeInstanceOf(UserNotFoundError);
        await expect(ctx.users.reactivateUser(id)).rejects.toBeInstanceOf(UserNotFoundError);
        await expect(ctx.users.updateLastLogin(id)).rejects.toBeInstanceOf(UserNotFoundError);
      }
    });

    it('records the last login without a version bump', async () => {
      const user = await createUser(ctx.users);
      const at = new Date('2026-02-03T04:05:06.789Z');
      await expect(ctx.users.updateLastLogin(user.id, at)).resolves.toMatchObject({ lastLoginAt: at, version: user.version });
      const before = Date.now();
      const now = await ctx.users.updateLastLogin(user.id);
      expect(now.lastLoginAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(now.version).toBe(user.version);
      await expectInvalid(ctx.users.updateLastLogin(user.id, new Date('nope')), 'loginTime');
    });
  });

  describe('changeUserPassword', () => {
    it('accepts an argon2id PHC hash and a bcrypt hash, bumping version', async () => {
      const user = await createUser(ctx.users);
      const argon = await hashPassword('a brand new password');
      await expect(ctx.users.changeUserPassword(user.id, argon)).resolves.toBeUndefined();
      await expect(storedHash(user.id)).resolves.toBe(argon);
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ version: user.version + 1 });
      await ctx.users.changeUserPassword(user.id, BCRYPT_HASH);
      await expect(storedHash(user.id)).resolves.toBe(BCRYPT_HASH);
      await expect(ctx.users.getCredentialsById(user.id)).resolves.toMatchObject({ hashedPassword: BCRYPT_HASH, version: user.version + 2 });
    });

    it('never accepts plaintext or another hash format', async () => {
      const user = await createUser(ctx.users);
      const before = await storedHash(user.id);
      for (const value of ['a plaintext password', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', '$1$abc$def', '']) {
        await expectInvalid(ctx.users.changeUserPassword(user.id, value), 'hashedPassword');
      }
      await expect(storedHash(user.id)).resolves.toBe(before);
    });

    it('answers not found for unknown and soft-deleted users', async () => {
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      for (const id of [UNKNOWN_ID, 'not-a-uuid', gone.id]) {
        await expect(ctx.users.changeUserPassword(id, BCRYPT_HASH)).rejects.toBeInstanceOf(UserNotFoundError);
      }
    });
  });

  describe('assignRoleToUser and revokeRoleFromUser', () => {
    it('assigns and revokes, a repeated call being a no-op without a version bump', async () => {
      const user = await createUser(ctx.users);
      const assigned = await ctx.users.assignRoleToUser(user.id, 'editor');
      expect(assigned).toMatchObject({ roles: ['user', 'editor'], version: user.version + 1 });
      await expect(ctx.users.assignRoleToUser(user.id, 'editor')).resolves.toMatchObject({ roles: ['user', 'editor'], version: user.version + 1 });
      const revoked = await ctx.users.revokeRoleFromUser(user.id, 'editor');
      expect(revoked).toMatchObject({ roles: ['user'], version: user.version + 2 });
      await expect(ctx.users.revokeRoleFromUser(user.id, 'editor')).resolves.toMatchObject({ roles: ['user'], version: user.version + 2 });
    });

    it('accepts lower-case identifiers only', async () => {
      const user = await createUser(ctx.users);
      for (const role of ['Admin', 'ADMIN', 'has space', '', '1role', 'a'.repeat(33), "x'; DROP TABLE users; --", 42 as unknown as string]) {
        await expectInvalid(ctx.users.assignRoleToUser(user.id, role), 'role');
        await expectInvalid(ctx.users.revokeRoleFromUser(user.id, role), 'role');
      }
      await expect(ctx.users.assignRoleToUser(user.id, 'billing_admin-2')).resolves.toMatchObject({ roles: ['user', 'billing_admin-2'] });
    });

    it('answers not found for unknown and soft-deleted users', async () => {
      const gone = await createUser(ctx.users);
      await ctx.users.softDeleteUser(gone.id);
      for (const id of [UNKNOWN_ID, 'not-a-uuid', gone.id]) {
        await expect(ctx.users.assignRoleToUser(id, 'editor')).rejects.toBeInstanceOf(UserNotFoundError);
        await expect(ctx.users.revokeRoleFromUser(id, 'user')).rejects.toBeInstanceOf(UserNotFoundError);
      }
    });
  });
});
