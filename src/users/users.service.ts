import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Commit } from '../audit/request-auditor.service';
import { GuardrailError } from '../errors/domain-error';
import { hashPassword, passwordIssue } from './password';
import type { SqlStatement } from '../database/db.service';
import type { ImportOptions, ImportRow } from './repository/user-transfer';
import type { NewUser, User, UserDefaults, UserPatch } from './user.model';
import { UserValidationError } from './users.errors';
import { UsersSettings } from './users.options';
import { UsersRepository } from './users.repository';

export interface Actor {
  id: string;
}

// Policy for the admin API: what an admin may do to whom. The repository does the work; rate
// limits of sensitive routes are applied before this by SensitiveActionGuard.
@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly settings: UsersSettings,
  ) {}

  private get adminRoles(): readonly string[] {
    return this.settings.adminRoles;
  }

  private isAdmin(user: Pick<User, 'isActive' | 'roles'>): boolean {
    return user.isActive && user.roles.some((role) => this.adminRoles.includes(role));
  }

  // The routes that hash take a `commit` (RequestAuditor.commitWith for the request): the hashing
  // is done first, and only the change runs in it, with its audit row.
  async createUser(email: string, password: string, fullName: string | null | undefined, commit: Commit): Promise<User> {
    const prepared = await this.users.prepareNewUser(email, password, { fullName });
    return commit(() => this.users.insertNewUser(prepared));
  }

  // Bulk create hashes before its transaction opens; `beforeCommit` writes the audit rows in it.
  bulkCreate(users: NewUser[], beforeCommit: (created: User[]) => Promise<void>): Promise<User[]> {
    return this.users.bulkCreateUsers(users, beforeCommit);
  }

  // Changes that cannot remove an admin need no policy of their own; they go through here so
  // that every route that changes data has one door.
  restoreUser(id: string): Promise<User> {
    return this.users.restoreUser(id);
  }

  reactivateUser(id: string): Promise<User> {
    return this.users.reactivateUser(id);
  }

  assignRole(id: string, role: string): Promise<User> {
    return this.users.assignRoleToUser(id, role);
  }

  updateUser(actor: Actor, id: string, patch: UserPatch, expectedVersion?: number): Promise<User> {
    if (patch.isActive !== false) return this.users.partialUpdateUser(id, patch, { expectedVersion });
    return this.removingAdmins(actor, [id], 'deactivate', () => this.users.partialUpdateUser(id, patch, { expectedVersion }));
  }

  softDeleteUser(actor: Actor, id: string): Promise<User> {
    return this.removingAdmins(actor, [id], 'delete', () => this.users.softDeleteUser(id));
  }

  deactivateUser(actor: Actor, id: string): Promise<User> {
    return this.removingAdmins(actor, [id], 'deactivate', () => this.users.deactivateUser(id));
  }

  anonymizeUser(actor: Actor, id: string): Promise<void> {
    return this.removingAdmins(actor, [id], 'anonymize', () => this.users.anonymizeUser(id));
  }

  revokeRole(actor: Actor, id: string, role: string): Promise<User> {
    if (!this.adminRoles.includes(role)) return this.users.revokeRoleFromUser(id, role);
    return this.removingAdmins(actor, [id], 'demote', () => this.users.revokeRoleFromUser(id, role));
  }

  async setPassword(id: string, password: string, commit: Commit): Promise<void> {
    const user = await this.users.safeGetUserById(id);
    const issue = passwordIssue(password, 'password', undefined, user);
    if (issue) throw new UserValidationError([issue]);
    const hashed = await hashPassword(password);
    await commit(() => this.users.changeUserPassword(id, hashed));
  }

  bulkUpdate(actor: Actor, ids: string[], patch: UserPatch): Promise<User[]> {
    if (patch.isActive !== false) return this.users.bulkUpdateUsers(ids, patch);
    return this.removingAdmins(actor, ids, 'deactivate', () => this.users.bulkUpdateUsers(ids, patch));
  }

  bulkDelete(actor: Actor, ids: string[]): Promise<number> {
    return this.removingAdmins(actor, ids, 'delete', () => this.users.bulkDeleteUsers(ids));
  }

  exportUsers(format: 'csv' | 'json', withDeleted: boolean, prologue?: SqlStatement): Promise<Readable> {
    const options = { withDeleted, prologue };
    return format === 'json' ? this.users.exportUsersToJson(options) : this.users.exportUsersToCsv(options);
  }

  // Upsert and import can change roles and the active flag of existing users: they run in one
  // transaction that is rolled back if it would leave the caller, or the app, without an admin.
  upsertUser(actor: Actor, email: string, defaults: UserDefaults | undefined): Promise<{ user: User; created: boolean }> {
    return this.keepingAdmins(actor, () => this.users.upsertUserReportingCreation(email, defaults));
  }

  // Validated and hashed before keepingAdmins locks the admins' rows.
  async importUsers(actor: Actor, rows: ImportRow[], options: ImportOptions, commit: Commit): Promise<User[]> {
    const prepared = await this.users.prepareImport(rows, options);
    return commit(() => this.keepingAdmins(actor, () => this.users.writeImport(prepared)));
  }

  // A change that may take users out of the active admins runs in one transaction that first
  // locks the active admins' rows: two admins removing each other at once are serialized, and the
  // second one sees that the first is gone.
  private removingAdmins<T>(actor: Actor, ids: string[], verb: string, work: () => Promise<T>): Promise<T> {
    return this.users.dbTransaction(async () => {
      await this.users.lockActiveUsersWithRole(this.adminRoles);
      await this.assertMayRemoveAdmins(actor, ids, verb);
      return work();
    });
  }

  private keepingAdmins<T>(actor: Actor, work: () => Promise<T>): Promise<T> {
    return this.users.dbTransaction(async () => {
      await this.users.lockActiveUsersWithRole(this.adminRoles);
      const result = await work();
      const self = await this.users.getUserById(actor.id);
      if (!self || !this.isAdmin(self)) throw new GuardrailError('An admin cannot deactivate or demote their own account');
      if ((await this.users.countActiveUsersWithRole(this.adminRoles)) === 0) throw new GuardrailError('Cannot remove the last active admin');
      return result;
    });
  }

  // An admin cannot delete, deactivate, anonymize or demote themselves, and the last active
  // admin cannot lose the role.
  private async assertMayRemoveAdmins(actor: Actor, ids: string[], verb: string): Promise<void> {
    if (ids.some((id) => id.toLowerCase() === actor.id.toLowerCase())) throw new GuardrailError(`An admin cannot ${verb} their own account`);
    const targets = await this.users.getUsersByIds(ids);
    const adminTargets = targets.filter((u) => this.isAdmin(u));
    if (adminTargets.length === 0) return;
    const remaining = await this.users.countActiveUsersWithRole(this.adminRoles, adminTargets.map((u) => u.id));
    if (remaining === 0) throw new GuardrailError(`Cannot ${verb} the last active admin`);
  }
}
