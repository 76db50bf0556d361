import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { canonicalEmail } from '../email';
import { hashPassword } from '../password';
import { BUMP_VERSION, toUser, USER_COLUMNS } from '../user-row';
import type { NewUser, User, UserPatch } from '../user.model';
import { UserAlreadyExistsError, UserValidationError, type ConflictDetail } from '../users.errors';
import { isUuid } from '../../common/paging';
import { bulkItemIssues, MAX_BULK_ITEMS, patchAssignments, PATCHABLE_FIELDS, repeatedEmails, UNUSABLE_PASSWORD } from '../user-rules';
import { InsertMany } from './insert-many';
import { UserWrites } from './user-writes';

const HASH_CONCURRENCY = 4;

export interface PreparedUser {
  id?: string;
  email: string;
  emailNormalized: string;
  fullName: string | null;
  hashedPassword: string;
  isActive: boolean;
  roles: string[];
  metadata: Record<string, unknown>;
  // Strings (ISO 8601 with a zone) keep the microseconds a Date would drop.
  createdAt?: Date | string;
  lastLoginAt?: Date | string | null;
}

// Set-based writes over many users: one statement per chunk, all chunks in one transaction.
@Injectable()
export class UserBulk {
  constructor(
    private readonly db: Db,
    private readonly writes: UserWrites,
    private readonly t: TableNames,
    private readonly insertMany: InsertMany,
  ) {}

  // All or nothing. Invalid rows and duplicates (inside the batch or against live users) are
  // reported together, by input index. Passwords are hashed before the transaction opens;
  // `beforeCommit` runs inside it once the users are in (the REST route's audit row).
  async bulkCreateUsers(users: NewUser[], beforeCommit?: (created: User[]) => Promise<void>): Promise<User[]> {
    const prepared = await this.prepare(users);
    const conflicts = [...duplicatesWithin(prepared), ...(await this.existing(prepared))];
    if (conflicts.length) throw new UserAlreadyExistsError(conflicts.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)));
    return this.insert(prepared, 'error', beforeCommit);
  }

  async bulkUpdateUsers(ids: string[], updateData: UserPatch): Promise<User[]> {
    this.assertIds(ids);
    // Many users cannot share one email, so email is not bulk-writable.
    const { assignments, params } = patchAssignments(updateData, 2, PATCHABLE_FIELDS.filter((f) => f !== 'email'));
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0 || assignments.length === 0) return [];
    return this.db.transaction(async () => {
      const rows = await this.writes.write(
        `UPDATE ${this.t.users} u SET ${assignments.join(', ')}, ${BUMP_VERSION}
         WHERE u.id = ANY($1::uuid[]) AND u.deleted_at IS NULL RETURNING ${USER_COLUMNS}`,
        [wanted, ...params],
      );
      return rows.map(toUser);
    });
  }

  // Hard delete: files go with the user (ON DELETE CASCADE), audit history stays (no FK).
  async bulkDeleteUsers(ids: string[]): Promise<number> {
    this.assertIds(ids);
    const wanted = [...new Set(ids.filter(isUuid))];
    if (wanted.length === 0) return 0;
    return this.db.transaction(async () => {
      const rows = await this.db.query<{ id: string }>(`DELETE FROM ${this.t.users} WHERE id = ANY($1::uuid[]) RETURNING id`, [wanted]);
      await this.writes.invalidate(rows.map((r) => r.id));
      return rows.length;
    });
  }

  // Validates every row and hashes plaintext passwords; throws one error listing every bad row.
  // `hashPasswords: false` validates only (a dry run): plaintext rows get the unusable hash and
  // must not be inserted.
  async prepare(users: NewUser[], options: { allowMissingPassword?: boolean; hashPasswords?: boolean } = {}): Promise<PreparedUser[]> {
    if (!Array.isArray(users)) throw UserValidationError.field('users', 'must be an array');
    if (users.length > MAX_BULK_ITEMS) throw UserValidationError.field('users', `at most ${MAX_BULK_ITEMS} items per call`);
    const issues = bulkItemIssues(users, options);
    if (issues.length) throw new UserValidationError(issues);
    const hashes = await mapLimited(users, HASH_CONCURRENCY, (u) =>
      u.password !== undefined && options.hashPasswords !== false ? hashPassword(u.password) : Promise.resolve(u.hashedPassword ?? UNUSABLE_PASSWORD),
    );
    return users.map((u, i) => ({
      email: u.email.trim(),
      emailNormalized: canonicalEmail(u.email),
      fullName: u.fullName ?? null,
      hashedPassword: hashes[i],
      isActive: u.isActive ?? true,
      roles: u.roles ? [...new Set(u.roles)] : ['user'],
      metadata: u.metadata ?? {},
    }));
  }

  // Inserts prepared rows in one transaction (see InsertMany); the cache follows after commit.
  async insert(rows: PreparedUser[], onConflict: 'error' | 'skip' | 'update', beforeCommit?: (written: User[]) => Promise<void>): Promise<User[]> {
    return this.insertMany.insert(rows, onConflict, async (users) => {
      await this.writes.invalidate(users.map((u) => u.id));
      await beforeCommit?.(users);
    });
  }

  async existing(rows: PreparedUser[]): Promise<ConflictDetail[]> {
    const found = await this.db.query<{ email_normalized: string }>(
      `SELECT email_normalized FROM ${this.t.users} WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL`,
      [[...new Set(rows.map((r) => r.emailNormalized))]],
    );
    const taken = new Set(found.map((r) => r.email_normalized));
    return rows.flatMap((r, index) => (taken.has(r.emailNormalized) ? [{ email: r.emailNormalized, index }] : []));
  }

  private assertIds(ids: string[]): void {
    if (!Array.isArray(ids)) throw UserValidationError.field('ids', 'must be an array');
    if (ids.length > MAX_BULK_ITEMS) throw UserValidationError.field('ids', `at most ${MAX_BULK_ITEMS} ids per call`);
  }
}

export function duplicatesWithin(rows: PreparedUser[]): ConflictDetail[] {
  return repeatedEmails(rows.map((r) => r.emailNormalized)).map(({ email, index }) => ({ email, index }));
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
