import { Injectable } from '@nestjs/common';
import type { Commit } from '../../audit/request-auditor.service';
import { UnauthenticatedError } from '../../errors/domain-error';
import { canonicalEmail } from '../email';
import { checkPassword, hashPassword, needsRehash, passwordIssue } from '../password';
import type { User, UserCredentials } from '../user.model';
import { UserValidationError } from '../users.errors';
import { UsersRepository } from '../users.repository';
import { AccessTokens, type IssuedToken } from './access-tokens.service';
import { LoginLimiter } from './login-limiter.service';

// One message for every login failure: unknown email, wrong password, inactive, deleted or
// anonymized account all look the same to the caller.
const LOGIN_FAILED = 'Invalid email or password';
export const LOGIN_AUDIT_ACTION = 'auth.login';

// Login, the caller's own profile and password. Everything about users goes through the
// injected UsersRepository: this module has no SQL of its own.
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly tokens: AccessTokens,
    private readonly limiter: LoginLimiter,
  ) {}

  // The attempt has already been counted against the client address (LoginAttemptGuard); the
  // address goes into the login's audit row.
  async login(email: string, password: string, clientAddress: string): Promise<IssuedToken> {
    const account = canonicalEmail(email);
    await this.limiter.assertAccountNotLocked(account);
    const found = await this.users.getCredentialsByEmail(email);
    // A rejection is audited on the account the email names (never the email itself).
    if (found) this.users.noteAuditSubject(found.id);
    const credentials = await this.verified(found, password);
    if (!credentials) {
      await this.limiter.countAccountFailure(account);
      throw new UnauthenticatedError(LOGIN_FAILED);
    }
    const current = await this.upgradeHash(credentials, password);
    // The password was changed while this login verified the old one: no token from stale credentials.
    if (!current) throw new UnauthenticatedError(LOGIN_FAILED);
    await this.recordLogin(credentials.id, clientAddress);
    return this.tokens.issue({ sub: current.id, ver: current.version, tep: current.tokenEpoch, roles: current.roles });
  }

  // Ends every token issued to the caller so far, on every device: the token epoch rotates.
  async logout(userId: string): Promise<void> {
    if (!(await this.users.endUserSessions(userId))) throw new UnauthenticatedError('Invalid or expired token');
  }

  async currentUser(userId: string): Promise<User> {
    const user = await this.users.getUserById(userId);
    // The guard has just checked this user; it can only be gone if it was deleted meanwhile.
    if (!user) throw new UnauthenticatedError('Invalid or expired token');
    return user;
  }

  // Rate-limited by the route's @SensitiveRoute('password-change') (SensitiveActionGuard counts it
  // per account before this runs, so a stolen token cannot be used to guess the current password).
  // The version bump retires every token issued so far. The verification and the new hash are done
  // before `commit` (the request's audited transaction) runs the change.
  async changeOwnPassword(userId: string, currentPassword: string, newPassword: string, commit: Commit): Promise<void> {
    const issue = passwordIssue(newPassword, 'newPassword', undefined, (await this.users.getUserById(userId)) ?? {});
    if (issue) throw new UserValidationError([issue]);
    const credentials = await this.verified(await this.users.getCredentialsById(userId), currentPassword);
    const mismatch = () => UserValidationError.field('currentPassword', 'does not match the current password');
    if (!credentials) throw mismatch();
    const hashed = await hashPassword(newPassword);
    // Conditional on the hash just verified: of two concurrent changes with the same current
    // password, the second finds a new hash and fails as a wrong current password (inside
    // `commit`, so that its audit row rolls back with it).
    await commit(async () => {
      if (!(await this.users.replaceUserPasswordHash(userId, credentials.hashedPassword, hashed))) throw mismatch();
    });
  }

  // The login's audit row commits with its last-login time, in a transaction of their own (none is
  // held across the password verification).
  private recordLogin(userId: string, clientAddress: string): Promise<void> {
    return this.users.dbTransaction(async () => {
      await this.users.updateLastLogin(userId);
      await this.users.auditLogUserChange(userId, LOGIN_AUDIT_ACTION, { outcome: 'success', targetIds: [userId], clientAddress }, { actorId: userId });
    });
  }

  // Replaces a hash other than today's policy (e.g. an imported bcrypt one) with argon2id, only if
  // it is still the hash just verified. That bumps the version and rotates the token epoch: the
  // token about to be issued carries the new ones. When the hash changed meanwhile, the password
  // is checked once more against the row as it is now: another login that upgraded it first still
  // lets this one in, while a password set meanwhile is never undone (null: no token from stale
  // credentials).
  private async upgradeHash(credentials: UserCredentials, password: string): Promise<Omit<UserCredentials, 'hashedPassword'> | null> {
    if (!needsRehash(credentials.hashedPassword)) return credentials;
    const upgraded = await this.users.replaceUserPasswordHash(credentials.id, credentials.hashedPassword, await hashPassword(password));
    if (upgraded) return upgraded;
    const now = await this.verified(await this.users.getCredentialsById(credentials.id), password);
    return now && !needsRehash(now.hashedPassword) ? now : null;
  }

  // The credentials when the account may log in with this password, else null. Takes the time of
  // one policy-cost verification whatever the outcome and the kind of hash (see checkPassword),
  // so timing does not tell which check failed.
  private async verified(credentials: UserCredentials | null, password: string): Promise<UserCredentials | null> {
    const usable = credentials?.isActive ? credentials.hashedPassword : undefined;
    return (await checkPassword(usable, password)) ? credentials : null;
  }
}
