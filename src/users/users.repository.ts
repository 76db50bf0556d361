import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { AuditLog, type AuditContext, type AuditEntry } from '../audit/audit-log.service';
import { Db, type DbSession } from '../database/db.service';
import { SensitiveActions } from '../throttling/sensitive-actions.service';
import { UserBulk } from './repository/user-bulk';
import { UserPrivacy } from './repository/user-privacy';
import { UserReads, type UserFilter } from './repository/user-reads';
import { UserTransfer, type ExportOptions, type ImportOptions, type ImportRow, type PreparedImport } from './repository/user-transfer';
import { UserWrites, type PreparedNewUser } from './repository/user-writes';
import type {
  KeysetPage,
  NewUser,
  Page,
  PageOptions,
  User,
  UserAuthState,
  UserCredentials,
  UserDefaults,
  UserPatch,
  UserWithFiles,
} from './user.model';

type WithDeleted = { withDeleted?: boolean };

// The users data layer that controllers and sibling modules inject. It keeps the design's
// operation names; the work is split by concern (reads, writes, bulk, transfer, privacy, audit,
// rate limits) into the classes it delegates to. Every call joins the ambient dbTransaction.
@Injectable()
export class UsersRepository {
  constructor(
    private readonly db: Db,
    private readonly reads: UserReads,
    private readonly writes: UserWrites,
    private readonly bulk: UserBulk,
    private readonly transfer: UserTransfer,
    private readonly privacy: UserPrivacy,
    private readonly audit: AuditLog,
    private readonly limits: SensitiveActions,
  ) {}

  // Reads
  getUserById(id: string, options?: WithDeleted): Promise<User | null> {
    return this.reads.getUserById(id, options);
  }
  safeGetUserById(id: string, options?: WithDeleted): Promise<User> {
    return this.reads.safeGetUserById(id, options);
  }
  userExists(id: string): Promise<boolean> {
    return this.reads.userExists(id);
  }
  getUsersByIds(ids: string[]): Promise<User[]> {
    return this.reads.getUsersByIds(ids);
  }
  listUsersPaginated(offset?: number, limit?: number, options?: WithDeleted): Promise<Page<User>> {
    return this.reads.listUsersPaginated(offset, limit, options);
  }
  listUsersAfter(cursor: string | null | undefined, limit?: number, options?: WithDeleted): Promise<KeysetPage<User>> {
    return this.reads.listUsersAfter(cursor, limit, options);
  }
  searchUsersByNameOrEmail(query: string, offset?: number, limit?: number, options?: WithDeleted): Promise<Page<User>> {
    return this.reads.searchUsersByNameOrEmail(query, offset, limit, options);
  }
  filterUsersByStatus(isActive: boolean, options?: PageOptions): Promise<Page<User>> {
    return this.reads.filterUsersByStatus(isActive, options);
  }
  getActiveUsers(options?: PageOptions): Promise<Page<User>> {
    return this.reads.getActiveUsers(options);
  }
  getInactiveUsers(options?: PageOptions): Promise<Page<User>> {
    return this.reads.getInactiveUsers(options);
  }
  filterUsersByRole(role: string, options?: PageOptions): Promise<Page<User>> {
    return this.reads.filterUsersByRole(role, options);
  }
  getUsersCreatedWithin(start: Date, end: Date, options?: PageOptions): Promise<Page<User>> {
    return this.reads.getUsersCreatedWithin(start, end, options);
  }
  getUsersByCustomField(field: string, value: unknown, options?: PageOptions): Promise<Page<User>> {
    return this.reads.getUsersByCustomField(field, value, options);
  }
  findUsers(filter: UserFilter, options?: PageOptions): Promise<Page<User>> {
    return this.reads.findUsers(filter, options);
  }
  countUsers(isActive?: boolean, options?: WithDeleted): Promise<number> {
    return this.reads.countUsers(isActive, options);
  }
  getUserWithFiles(id: string): Promise<UserWithFiles | null> {
    return this.reads.getUserWithFiles(id);
  }
  userSignupsPerMonth(year: number): Promise<Record<number, number>> {
    return this.reads.userSignupsPerMonth(year);
  }
  isEmailUnique(email: string, excludeUserId?: string): Promise<boolean> {
    return this.reads.isEmailUnique(email, excludeUserId);
  }
  lockActiveUsersWithRole(role: string | readonly string[]): Promise<void> {
    return this.reads.lockActiveUsersWithRole(role);
  }
  countActiveUsersWithRole(role: string | readonly string[], excludeIds?: string[]): Promise<number> {
    return this.reads.countActiveUsersWithRole(role, excludeIds);
  }
  // For the auth module: the only reads that return a password hash.
  getCredentialsByEmail(email: string): Promise<UserCredentials | null> {
    return this.reads.getCredentialsByEmail(email);
  }
  getCredentialsById(id: string): Promise<UserCredentials | null> {
    return this.reads.getCredentialsById(id);
  }
  // For the auth guard: the live user and the token epoch its tokens must carry (cached).
  getUserAuthState(id: string): Promise<UserAuthState | null> {
    return this.reads.getUserAuthState(id);
  }

  // Writes
  createUserWithValidation(email: string, password: string, extra?: { fullName?: string | null }): Promise<User> {
    return this.writes.createUserWithValidation(email, password, extra);
  }
  // createUserWithValidation in two steps, for a caller that must not hold a transaction across
  // the hash: prepareNewUser validates and hashes, insertNewUser writes (in the ambient transaction).
  prepareNewUser(email: string, password: string, extra?: { fullName?: string | null }): Promise<PreparedNewUser> {
    return this.writes.prepareNewUser(email, password, extra);
  }
  insertNewUser(user: PreparedNewUser): Promise<User> {
    return this.writes.insertNewUser(user);
  }
  async upsertUser(email: string, defaults?: UserDefaults): Promise<User> {
    return (await this.writes.upsertUser(email, defaults)).user;
  }
  // upsertUser that also tells whether the user was created (REST answers 201 then).
  upsertUserReportingCreation(email: string, defaults?: UserDefaults): Promise<{ user: User; created: boolean }> {
    return this.writes.upsertUser(email, defaults);
  }
  partialUpdateUser(id: string, updateData: UserPatch, options?: { expectedVersion?: number }): Promise<User> {
    return this.writes.partialUpdateUser(id, updateData, options);
  }
  softDeleteUser(id: string): Promise<User> {
    return this.writes.softDeleteUser(id);
  }
  restoreUser(id: string): Promise<User> {
    return this.writes.restoreUser(id);
  }
  deactivateUser(id: string): Promise<User> {
    return this.writes.deactivateUser(id);
  }
  reactivateUser(id: string): Promise<User> {
    return this.writes.reactivateUser(id);
  }
  updateLastLogin(id: string, loginTime?: Date): Promise<User> {
    return this.writes.updateLastLogin(id, loginTime);
  }
  changeUserPassword(id: string, newHashedPassword: string): Promise<void> {
    return this.writes.changeUserPassword(id, newHashedPassword);
  }
  // For the auth module: sets a new hash only if the stored one is still `expectedHash` (the one
  // just verified); null when it changed meanwhile.
  replaceUserPasswordHash(id: string, expectedHash: string, newHashedPassword: string): Promise<UserAuthState | null> {
    return this.writes.replacePasswordHash(id, expectedHash, newHashedPassword);
  }
  // Ends every access token of the user (logout); false when there is no live user.
  endUserSessions(id: string): Promise<boolean> {
    return this.writes.rotateTokenEpoch(id);
  }
  assignRoleToUser(id: string, role: string): Promise<User> {
    return this.writes.assignRoleToUser(id, role);
  }
  revokeRoleFromUser(id: string, role: string): Promise<User> {
    return this.writes.revokeRoleFromUser(id, role);
  }

  // Bulk
  // `beforeCommit` runs in the insert's transaction, after the (already hashed) users are in.
  bulkCreateUsers(users: NewUser[], beforeCommit?: (created: User[]) => Promise<void>): Promise<User[]> {
    return this.bulk.bulkCreateUsers(users, beforeCommit);
  }
  bulkUpdateUsers(ids: string[], updateData: UserPatch): Promise<User[]> {
    return this.bulk.bulkUpdateUsers(ids, updateData);
  }
  bulkDeleteUsers(ids: string[]): Promise<number> {
    return this.bulk.bulkDeleteUsers(ids);
  }

  // Import and export
  exportUsersToCsv(options?: ExportOptions): Promise<Readable> {
    return this.transfer.exportUsersToCsv(options);
  }
  exportUsersToJson(options?: ExportOptions): Promise<Readable> {
    return this.transfer.exportUsersToJson(options);
  }
  importUsersFromDicts(userDicts: ImportRow[], options?: ImportOptions): Promise<User[]> {
    return this.transfer.importUsersFromDicts(userDicts, options);
  }
  // importUsersFromDicts in two steps: prepareImport validates and hashes, writeImport writes.
  prepareImport(userDicts: ImportRow[], options?: ImportOptions): Promise<PreparedImport> {
    return this.transfer.prepareImport(userDicts, options);
  }
  writeImport(prepared: PreparedImport): Promise<User[]> {
    return this.transfer.writeImport(prepared);
  }

  // Privacy, audit and rate limits
  anonymizeUser(id: string): Promise<void> {
    return this.privacy.anonymizeUser(id);
  }
  // `context` names the actor and request; without it they come from the nestjs-cls keys
  // AUDIT_ACTOR_ID and AUDIT_REQUEST_ID (see audit-log.service.ts).
  auditLogUserChange(userId: string | null, action: string, details?: Record<string, unknown> | string, context?: AuditContext): Promise<void> {
    return this.audit.auditLogUserChange(userId, action, details, context);
  }
  // Names the user an audited request turned out to be about, for the audit of its rejection.
  noteAuditSubject(userId: string): void {
    this.audit.noteSubject(userId);
  }
  getAuditLog(userId: string, options?: PageOptions): Promise<Page<AuditEntry>> {
    return this.audit.getAuditLog(userId, options);
  }
  sensitiveUserAction(userId: string, action: string): Promise<void> {
    return this.limits.sensitiveUserAction(userId, action);
  }

  // Transactions: every repository call made inside `work` joins the one transaction.
  dbTransaction<T>(work: () => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  // One pooled connection, released in every path. Without `work`, the caller owns it
  // (`await using session = await users.dbSessionContext()`) and queries it directly; with
  // `work`, repository calls made inside also run on it (a dbTransaction inside takes its own).
  dbSessionContext(): Promise<DbSession>;
  dbSessionContext<T>(work: (session: DbSession) => Promise<T>): Promise<T>;
  dbSessionContext<T>(work?: (session: DbSession) => Promise<T>): Promise<DbSession | T> {
    return work ? this.db.withSession(work) : this.db.openSession();
  }
}
