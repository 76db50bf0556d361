import { Injectable } from '@nestjs/common';
import { AuditLog } from '../audit/audit-log.service';
import { Db, type DbSession } from '../database/db.service';
import { SensitiveActions } from '../throttling/sensitive-actions.service';
import { UserBulk } from './repository/user-bulk';
import { UserPrivacy } from './repository/user-privacy';
import { UserReads } from './repository/user-reads';
import { UserTransfer } from './repository/user-transfer';
import { UserWrites } from './repository/user-writes';
import type { User, UserDefaults } from './user.model';

// The operations of each concern that the repository serves as they are: its public surface,
// named once here; their signatures and documentation are the concern classes' own.
const READS = [
  'getUserById',
  'safeGetUserById',
  'userExists',
  'getUsersByIds',
  'listUsersPaginated',
  'listUsersAfter',
  'listDormantUsers',
  'countDormantUsers',
  'searchUsersByNameOrEmail',
  'filterUsersByStatus',
  'getActiveUsers',
  'getInactiveUsers',
  'filterUsersByRole',
  'getUsersCreatedWithin',
  'getUsersByCustomField',
  'findUsers',
  'countUsers',
  'getUserWithFiles',
  'userSignupsPerMonth',
  'isEmailUnique',
  'lockActiveUsersWithRole',
  'countActiveUsersWithRole',
  'getCredentialsByEmail',
  'getCredentialsById',
  'getUserAuthState',
] as const satisfies readonly (keyof UserReads)[];

const WRITES = [
  'createUserWithValidation',
  'prepareNewUser',
  'insertNewUser',
  'upsertUserReportingCreation',
  'partialUpdateUser',
  'softDeleteUser',
  'restoreUser',
  'deactivateUser',
  'reactivateUser',
  'updateLastLogin',
  'changeUserPassword',
  'replaceUserPasswordHash',
  'endUserSessions',
  'assignRoleToUser',
  'revokeRoleFromUser',
] as const satisfies readonly (keyof UserWrites)[];

const BULK = ['bulkCreateUsers', 'bulkUpdateUsers', 'bulkDeleteUsers'] as const satisfies readonly (keyof UserBulk)[];
const TRANSFER = ['exportUsersToCsv', 'exportUsersToJson', 'importUsersFromDicts', 'prepareImport', 'writeImport'] as const satisfies readonly (keyof UserTransfer)[];
const PRIVACY = ['anonymizeUser'] as const satisfies readonly (keyof UserPrivacy)[];
const AUDIT = ['auditLogUserChange', 'getAuditLog'] as const satisfies readonly (keyof AuditLog)[];
const LIMITS = ['sensitiveUserAction'] as const satisfies readonly (keyof SensitiveActions)[];

type Served<T, K extends readonly (keyof T)[]> = Pick<T, K[number]>;

// The declaration merges with the class below: the served operations, typed by their classes
// (the rule guards against members declared but never defined; serve() defines each one).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface UsersRepository
  extends Served<UserReads, typeof READS>,
    Served<UserWrites, typeof WRITES>,
    Served<UserBulk, typeof BULK>,
    Served<UserTransfer, typeof TRANSFER>,
    Served<UserPrivacy, typeof PRIVACY>,
    Served<AuditLog, typeof AUDIT>,
    Served<SensitiveActions, typeof LIMITS> {}

// The users data layer that controllers and sibling modules inject. The work is split by concern
// (reads, writes, bulk, transfer, privacy, audit, rate limits): peers that share one store of
// persistence primitives (repository/user-store.ts) and one door to PostgreSQL (Db). Every call
// joins the ambient dbTransaction. Only what is more than a pass-through is written out here.
@Injectable()
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
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

  async upsertUser(email: string, defaults?: UserDefaults): Promise<User> {
    return (await this.writes.upsertUserReportingCreation(email, defaults)).user;
  }

  // Names the user an audited request turned out to be about, for the audit of its rejection.
  noteAuditSubject(userId: string): void {
    this.audit.noteSubject(userId);
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

type Concern = 'reads' | 'writes' | 'bulk' | 'transfer' | 'privacy' | 'audit' | 'limits';

// Defines each served operation on the prototype as a call to the same method of the concern.
function serve(concern: Concern, operations: readonly string[]): void {
  for (const name of operations) {
    Object.defineProperty(UsersRepository.prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: Record<Concern, Record<string, (...args: unknown[]) => unknown>>, ...args: unknown[]): unknown {
        return this[concern][name](...args);
      },
    });
  }
}

serve('reads', READS);
serve('writes', WRITES);
serve('bulk', BULK);
serve('transfer', TRANSFER);
serve('privacy', PRIVACY);
serve('audit', AUDIT);
serve('limits', LIMITS);
