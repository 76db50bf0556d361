import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { toUser } from '../user-row';
import type { NewUser, User, UserPatch } from '../user.model';
import { UserAlreadyExistsError, UserValidationError } from '../users.errors';
import { isUuid } from '../../common/paging';
import { MAX_BULK_ITEMS, patchAssignments, PATCHABLE_FIELDS } from '../user-rules';
import { duplicatesWithin, prepareUsers } from './prepared-users';
import { UserStore } from './user-store';

// Set-based writes over many users: one statement per chunk, all chunks in one transaction.
@Injectable()
export class UserBulk {
  constructor(
    private readonly db: Db,
    private readonly store: UserStore,
    private readonly t: TableNames,
  ) {}

  // All or nothing. Invalid rows and duplicates (inside the batch or against live users) are
  // reported together, by input index. Passwords are hashed before the transaction opens;
  // `beforeCommit` runs inside it once the users are in (the REST route's audit row).
  async bulkCreateUsers(users: NewUser[], beforeCommit?: (created: User[]) => Promise<void>): Promise<User[]> {
    const prepared = await prepareUsers(users);
    const conflicts = [...duplicatesWithin(prepared), ...(await this.store.existingEmails(prepared))];
    if (conflicts.length) throw new UserAlreadyExistsError(conflicts.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)));
    return this.db.transaction(async () => {
      const created = await this.store.insertMany(prepared, 'error');
      await beforeCommit?.(created);
      return created;
    });
  }

  async bulkUpdateUsers(ids: string[], updateData: UserPatch): Promise<User[]> {
    this.assertIds(ids);
    // Many users cannot share one email, so email is not bulk-writable.
    const { assignments, params, fields } = patchAssignments(updateData, 2, PATCHABLE_FIELDS.filter((f) => f !== 'email'));
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0 || assignments.length === 0) return [];
    const rows = await this.store.update(assignments.join(', '), 'u.id = ANY($1::uuid[]) AND u.deleted_at IS NULL', [wanted, ...params], { type: 'user.updated', fields });
    return rows.map(toUser);
  }

  // Hard delete: files go with the user (ON DELETE CASCADE), audit history stays (no FK).
  async bulkDeleteUsers(ids: string[]): Promise<number> {
    this.assertIds(ids);
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0) return 0;
    const rows = await this.store.write(`DELETE FROM ${this.t.users} WHERE id = ANY($1::uuid[]) RETURNING id, version`, [wanted], { type: 'user.hard_deleted' });
    return rows.length;
  }

  private assertIds(ids: string[]): void {
    if (!Array.isArray(ids)) throw UserValidationError.field('ids', 'must be an array');
    if (ids.length > MAX_BULK_ITEMS) throw UserValidationError.field('ids', `at most ${MAX_BULK_ITEMS} ids per call`);
  }
}
