import { Injectable } from '@nestjs/common';
import { UnauthenticatedError } from '../errors/domain-error';
import { canonicalEmail } from '../users/email';
import { burnPasswordVerification, hashPassword, isPasswordHash, needsRehash, passwordIssue, verifyPassword } from '../users/password';
import type { User, UserCredentials } from '../users/user.model';
import { UserValidationError } from '../users/users.errors';
import { UsersRepository } from '../users/users.repository';
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

  async login(email: string, password: string, clientAddress: string): Promise<IssuedToken> {
    const account = canonicalEmail(email);
    await this.limiter.countAddressAttempt(clientAddress);
    await this.limiter.assertAccountNotLocked(account);
    const found = await this.users.getCredentialsByEmail(email);
    // A rejection is audited on the account the email names (never the email itself).
    if (found) this.users.noteAuditSubject(found.id);
    const credentials = await this.verified(found, password);
    if (!credentials) {
      await this.limiter.countAccountFailure(account);
      throw new UnauthenticatedError(LOGIN_FAILED);
    }
    await this.recordLogin(credentials.id, clientAddress);
    const version = await this.upgradeHash(credentials, password);
    return this.tokens.issue({ sub: credentials.id, ver: version, roles: credentials.roles });
  }

  async currentUser(userId: string): Promise<User> {
    const user = await this.users.getUserById(userId);
    // The guard has just checked this user; it can only be gone if it was deleted meanwhile.
    if (!user) throw new UnauthenticatedError('Invalid or expired token');
    return user;
  }

  // Rate-limited by the route's @SensitiveRoute('password-change') (SensitiveActionGuard counts it
  // per account before this runs, so a stolen token cannot be used to guess the current password).
  // The version bump retires every token issued so far.
  async changeOwnPassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const issue = passwordIssue(newPassword, 'newPassword');
    if (issue) throw new UserValidationError([issue]);
    if (!(await this.verified(await this.users.getCredentialsById(userId), currentPassword))) {
      throw UserValidationError.field('currentPassword', 'does not match the current password');
    }
    await this.users.changeUserPassword(userId, await hashPassword(newPassword));
  }

  // The login's audit row commits with its last-login time, in a transaction of their own (none is
  // held across the password verification).
  private recordLogin(userId: string, clientAddress: string): Promise<void> {
    return this.users.dbTransaction(async () => {
      await this.users.updateLastLogin(userId);
      await this.users.auditLogUserChange(userId, LOGIN_AUDIT_ACTION, { outcome: 'success', targetIds: [userId], clientAddress }, { actorId: userId });
    });
  }

  // Replaces a hash below today's policy (e.g. an imported bcrypt one) with argon2id. That bumps
  // the user's version, so the token about to be issued carries the new one.
  private async upgradeHash(credentials: UserCredentials, password: string): Promise<number> {
    if (!needsRehash(credentials.hashedPassword)) return credentials.version;
    await this.users.changeUserPassword(credentials.id, await hashPassword(password));
    return (await this.users.getCredentialsById(credentials.id))?.version ?? credentials.version + 1;
  }

  // The credentials when the account may log in with this password, else null. Costs one argon2
  // verification whatever the outcome, so timing does not tell which check failed.
  private async verified(credentials: UserCredentials | null, password: string): Promise<UserCredentials | null> {
    if (!credentials || !credentials.isActive || !isPasswordHash(credentials.hashedPassword)) {
      await burnPasswordVerification(password);
      return null;
    }
    return (await verifyPassword(credentials.hashedPassword, password)) ? credentials : null;
  }
}
