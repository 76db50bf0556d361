import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import type { FieldIssue } from '../../errors/domain-error';
import { canonicalEmail, emailIssue } from '../email';
import { hashPassword, isPasswordHash, passwordIssue } from '../password';
import { BUMP_VERSION, toUser, toUserAuthState, USER_COLUMNS, type UserRow } from '../user-row';
import type { User, UserAuthState, UserDefaults, UserPatch } from '../user.model';
import { ConcurrentUpdateError, UserAlreadyExistsError, UserNotFoundError, UserValidationError } from '../users.errors';
import { isUuid } from '../../common/paging';
import { UserStore } from './user-store';
import type { EventSpec } from '../events/outbox';

const PASSWORD_CHANGED: EventSpec = { type: 'user.password_changed', fields: ['password'] };
import { fullNameIssue, metadataIssue, patchAssignments, roleIssue, UNUSABLE_PASSWORD } from '../user-rules';

// A validated new user with its password hashed (from prepareNewUser), ready to insert.
export interface PreparedNewUser {
  email: string;
  emailNormalized: string;
  fullName: string | null;
  hashedPassword: string;
}

// Single-user writes. Each one bumps `version` when it changes what a token or a client relies
// on, and drops the user's cache entry once the change is committed (both through the store).
@Injectable()
export class UserWrites {
  constructor(
    private readonly db: Db,
    private readonly store: UserStore,
    private readonly t: TableNames,
  ) {}

  async createUserWithValidation(email: string, password: string, extra: { fullName?: string | null } = {}): Promise<User> {
    return this.insertNewUser(await this.prepareNewUser(email, password, extra));
  }

  // createUserWithValidation in two steps, for a caller that must not hold a transaction across
  // the hash: this does everything before the INSERT, argon2 included; insertNewUser writes (in
  // the ambient transaction).
  async prepareNewUser(email: string, password: string, extra: { fullName?: string | null } = {}): Promise<PreparedNewUser> {
    const issues = [emailIssue(email), passwordIssue(password, 'password', undefined, { email, fullName: extra.fullName }), fullNameIssue(extra.fullName)].filter((i): i is FieldIssue => !!i);
    if (issues.length) throw new UserValidationError(issues);
    // Cheap duplicate check first so a taken address does not cost a hash; the unique index
    // still decides under concurrency.
    if (await this.store.liveEmailTaken(canonicalEmail(email))) throw new UserAlreadyExistsError([{ email: canonicalEmail(email) }]);
    return { email: email.trim(), emailNormalized: canonicalEmail(email), fullName: extra.fullName ?? null, hashedPassword: await hashPassword(password) };
  }

  async insertNewUser(user: PreparedNewUser): Promise<User> {
    const rows = await this.store.write(
      `INSERT INTO ${this.t.users} AS u (email, email_normalized, full_name, hashed_password) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLUMNS}`,
      [user.email, user.emailNormalized, user.fullName, user.hashedPassword],
      { type: 'user.created' },
    );
    return toUser(rows[0]);
  }

  // One atomic INSERT ... ON CONFLICT on the canonical email: concurrent calls for one address
  // give one row and no error. An existing user gets the given defaults applied. Also tells
  // whether the user was created (REST answers 201 then).
  async upsertUserReportingCreation(email: string, defaults: UserDefaults = {}): Promise<{ user: User; created: boolean }> {
    const issues = [
      emailIssue(email),
      fullNameIssue(defaults.fullName),
      metadataIssue(defaults.metadata),
      ...(defaults.roles ?? []).map((r) => roleIssue(r)),
      defaults.isActive !== undefined && typeof defaults.isActive !== 'boolean' ? { field: 'isActive', reason: 'must be a boolean' } : undefined,
      defaults.hashedPassword !== undefined && !isPasswordHash(defaults.hashedPassword)
        ? { field: 'hashedPassword', reason: 'must be an argon2id or bcrypt hash' }
        : undefined,
    ].filter((i): i is FieldIssue => !!i);
    if (issues.length) throw new UserValidationError(issues);

    const updates: string[] = [];
    const fields: string[] = [];
    const assign = (field: string, column: string) => {
      fields.push(field);
      updates.push(`${column} = EXCLUDED.${column}`);
    };
    if (defaults.fullName !== undefined) assign('fullName', 'full_name');
    if (defaults.isActive !== undefined) assign('isActive', 'is_active');
    if (defaults.roles !== undefined) assign('roles', 'roles');
    if (defaults.metadata !== undefined) assign('metadata', 'metadata');
    if (defaults.hashedPassword !== undefined) assign('password', 'hashed_password');
    const set = updates.length
      ? `${updates.join(', ')}, ${BUMP_VERSION}`
      : 'email_normalized = EXCLUDED.email_normalized';
    const rows = await this.store.write<UserRow & { inserted: boolean }>(
      `INSERT INTO ${this.t.users} AS u (email, email_normalized, full_name, hashed_password, is_active, roles, metadata)
       VALUES ($1, $2, $3, $4, COALESCE($5, true), COALESCE($6, '{user}'::text[]), COALESCE($7, '{}'::jsonb))
       ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET ${set}
       RETURNING ${USER_COLUMNS}, (xmax = 0) AS inserted`,
      [
        email.trim(),
        canonicalEmail(email),
        defaults.fullName ?? null,
        defaults.hashedPassword ?? UNUSABLE_PASSWORD,
        defaults.isActive ?? null,
        defaults.roles ? [...new Set(defaults.roles)] : null,
        defaults.metadata ? JSON.stringify(defaults.metadata) : null,
      ],
      // An existing user given no defaults is left as it was: no event.
      { type: 'user.updated', fields, inserted: updates.length ? 'created-or-type' : 'created-only' },
    );
    return { user: toUser(rows[0]), created: rows[0].inserted };
  }

  // Only the allow-listed fields (email, fullName, isActive, metadata) may change; anything else
  // is a validation error. With expectedVersion, a concurrent change fails with VERSION_CONFLICT.
  async partialUpdateUser(id: string, updateData: UserPatch, options: { expectedVersion?: number } = {}): Promise<User> {
    const { assignments, params, fields } = patchAssignments(updateData, 3);
    if (options.expectedVersion !== undefined && !Number.isSafeInteger(options.expectedVersion)) {
      throw UserValidationError.field('expectedVersion', 'must be an integer');
    }
    if (!isUuid(id)) throw new UserNotFoundError(id);
    if (assignments.length === 0) {
      const user = await this.store.findUser(id);
      if (!user) throw new UserNotFoundError(id);
      if (options.expectedVersion !== undefined && user.version !== options.expectedVersion) throw new ConcurrentUpdateError(id, options.expectedVersion);
      return user;
    }
    const rows = await this.store.update(
      assignments.join(', '),
      'u.id = $1 AND u.deleted_at IS NULL AND ($2::int IS NULL OR u.version = $2::int)',
      [id, options.expectedVersion ?? null, ...params],
      { type: 'user.updated', fields },
    );
    if (rows.length) return toUser(rows[0]);
    if (options.expectedVersion !== undefined && (await this.store.liveUserExists(id))) throw new ConcurrentUpdateError(id, options.expectedVersion);
    throw new UserNotFoundError(id);
  }

  softDeleteUser(id: string): Promise<User> {
    return this.update(id, 'deleted_at = now(), is_deleted = true', { type: 'user.deleted', fields: ['deletedAt', 'isDeleted'] }, 'u.deleted_at IS NULL');
  }

  // Brings a soft-deleted user back, unless a live user took the email meanwhile (already
  // exists) or the user was anonymized (irreversible). Restoring a live user changes nothing.
  async restoreUser(id: string): Promise<User> {
    if (!isUuid(id)) throw new UserNotFoundError(id);
    const rows = await this.store.update('deleted_at = NULL, is_deleted = false', 'u.id = $1 AND u.deleted_at IS NOT NULL AND u.anonymized_at IS NULL', [id], {
      type: 'user.restored',
      fields: ['deletedAt', 'isDeleted'],
    });
    if (rows.length) return toUser(rows[0]);
    const [state] = await this.db.query<{ anonymized: boolean }>(`SELECT anonymized_at IS NOT NULL AS anonymized FROM ${this.t.users} WHERE id = $1`, [id]);
    if (!state) throw new UserNotFoundError(id);
    if (state.anonymized) throw UserValidationError.field('id', 'an anonymized user cannot be restored');
    const user = await this.store.findUser(id);
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  deactivateUser(id: string): Promise<User> {
    return this.update(id, 'is_active = false', { type: 'user.deactivated', fields: ['isActive'] }, 'u.is_active', 'u.deleted_at IS NULL');
  }

  reactivateUser(id: string): Promise<User> {
    return this.update(id, 'is_active = true', { type: 'user.reactivated', fields: ['isActive'] }, 'NOT u.is_active', 'u.deleted_at IS NULL');
  }

  // Not a version bump: logging in must not invalidate the caller's other sessions.
  async updateLastLogin(id: string, loginTime: Date = new Date()): Promise<User> {
    if (!(loginTime instanceof Date) || Number.isNaN(loginTime.getTime())) throw UserValidationError.field('loginTime', 'must be a valid date');
    if (!isUuid(id)) throw new UserNotFoundError(id);
    const rows = await this.store.write(
      `UPDATE ${this.t.users} u SET last_login_at = $2 WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING ${USER_COLUMNS}`,
      [id, loginTime],
      { type: 'user.logged_in', fields: ['lastLoginAt'] },
    );
    if (!rows.length) throw new UserNotFoundError(id);
    return toUser(rows[0]);
  }

  // Takes a hash, never a plaintext: a PHC argon2id string (or a bcrypt hash from a migration).
  async changeUserPassword(id: string, newHashedPassword: string): Promise<void> {
    if (!isPasswordHash(newHashedPassword)) throw UserValidationError.field('hashedPassword', 'must be an argon2id (PHC) or bcrypt hash');
    await this.update(id, 'hashed_password = $2', PASSWORD_CHANGED, 'u.deleted_at IS NULL', undefined, [newHashedPassword]);
  }

  // For the auth module. Compare-and-set on the hash the caller verified: a password set since then wins, and this
  // returns null. The result carries the version and token epoch the change gave the user, for
  // the token issued next.
  async replaceUserPasswordHash(id: string, expectedHash: string, newHashedPassword: string): Promise<UserAuthState | null> {
    if (!isPasswordHash(newHashedPassword)) throw UserValidationError.field('hashedPassword', 'must be an argon2id (PHC) or bcrypt hash');
    if (!isUuid(id)) return null;
    const rows = await this.store.update<UserRow & { token_epoch: string }>(
      'hashed_password = $3',
      'u.id = $1 AND u.hashed_password = $2 AND u.deleted_at IS NULL',
      [id, expectedHash, newHashedPassword],
      PASSWORD_CHANGED,
      ', u.token_epoch::text AS token_epoch',
    );
    return rows.length ? toUserAuthState(rows[0]) : null;
  }

  // Ends every access token issued to the user so far (logout): a new token epoch, no version
  // bump, since nothing a client sees about the user changed. False when there is no live user.
  async endUserSessions(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.store.write(`UPDATE ${this.t.users} u SET token_epoch = gen_random_uuid() WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.version`, [id], {
      type: 'user.sessions_ended',
    });
    return rows.length > 0;
  }

  // async so that an invalid role rejects the returned promise instead of throwing at the call.
  async assignRoleToUser(id: string, role: string): Promise<User> {
    this.assertRole(role);
    return this.update(id, 'roles = array_append(u.roles, $2)', { type: 'user.role_assigned', fields: ['roles'] }, 'NOT ($2 = ANY(u.roles))', 'u.deleted_at IS NULL', [role]);
  }

  async revokeRoleFromUser(id: string, role: string): Promise<User> {
    this.assertRole(role);
    return this.update(id, 'roles = array_remove(u.roles, $2)', { type: 'user.role_revoked', fields: ['roles'] }, '$2 = ANY(u.roles)', 'u.deleted_at IS NULL', [role]);
  }

  // `when` limits the change to rows that need it (so a no-op changes no version and has no
  // event); `exists` is what the user must satisfy to be found at all.
  private async update(id: string, set: string, event: EventSpec, when: string, exists = when, extra: unknown[] = []): Promise<User> {
    if (!isUuid(id)) throw new UserNotFoundError(id);
    const rows = await this.store.update(set, `u.id = $1 AND ${when === exists ? when : `${when} AND ${exists}`}`, [id, ...extra], event);
    if (rows.length) return toUser(rows[0]);
    const user = when === exists ? null : await this.store.findUser(id, exists);
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  private assertRole(role: string): void {
    const issue = roleIssue(role, 'role');
    if (issue) throw new UserValidationError([issue]);
  }
}
