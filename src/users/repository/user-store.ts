import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UserCache } from '../user-cache.service';
import { BUMP_VERSION, toUser, USER_COLUMNS, type UserRow } from '../user-row';
import type { User } from '../user.model';
import type { ConflictDetail } from '../users.errors';
import { liveFilter } from './live-filter';
import type { PreparedUser } from './prepared-users';
import { InsertMany, type ConflictPolicy } from './insert-many';
import { translateWriteError } from './sql-errors';
import { Outbox, type EventSpec } from '../events/outbox';

export type { ConflictPolicy } from './insert-many';

// The persistence primitives every concern of the repository shares (reads, writes, bulk,
// transfer and privacy are peers that use this, never each other): a write that translates
// PostgreSQL's errors and drops the cache entries of the users it touched once the change is
// committed, the conditional update that bumps `version`, the insert of many users, and the
// existence checks the writes ask before they write. All SQL goes through Db.
@Injectable()
export class UserStore {
  constructor(
    private readonly db: Db,
    private readonly cache: UserCache,
    private readonly inserts: InsertMany,
    private readonly outbox: Outbox,
    private readonly t: TableNames,
  ) {}

  // Runs a write that returns user rows (at least their id) and schedules the cache invalidation
  // of each for after commit. A unique violation on the live email becomes UserAlreadyExistsError.
  // With `event`, the same statement writes one lifecycle event per returned row into the outbox
  // (the rows must then carry their version too).
  async write<T extends Pick<UserRow, 'id'> = UserRow>(sql: string, params: unknown[], event?: EventSpec): Promise<T[]> {
    const statement = event ? this.outbox.statement(sql, params, event) : { sql, params };
    let rows: T[];
    try {
      rows = await this.db.query<T>(statement.sql, statement.params);
    } catch (error) {
      throw translateWriteError(error, this.t);
    }
    await this.invalidate(rows.map((r) => r.id));
    if (event && rows.length) await this.outbox.written();
    return rows;
  }

  // Drops the users' cache entries once the ambient transaction commits (at once without one).
  async invalidate(ids: string[]): Promise<void> {
    if (ids.length) await this.db.afterCommit(() => this.cache.delete(ids));
  }

  // `UPDATE users u SET <set>, <version bump> WHERE <where>`: the one statement every change to
  // what a client or a token relies on goes through. `where` and `set` use `u` and $n from
  // `params`; returns the changed users (`returning` adds columns to USER_COLUMNS).
  // Each changed user gets `event`.
  async update<T extends UserRow = UserRow>(set: string, where: string, params: unknown[], event: EventSpec, returning = ''): Promise<T[]> {
    return this.write<T>(`UPDATE ${this.t.users} u SET ${set}, ${BUMP_VERSION}
       WHERE ${where} RETURNING ${USER_COLUMNS}${returning}`, params, event);
  }

  // The events of users already changed in the ambient transaction by statements of their own.
  async recordEvents(users: readonly { id: string; version: number }[], event: Pick<EventSpec, 'type' | 'fields'>): Promise<void> {
    await this.outbox.record(users, event);
    if (users.length) await this.outbox.written();
  }

  // The user with `id` that satisfies `condition` (on `u`, no parameters), read without the
  // cache: what a write reports when it found nothing to change.
  async findUser(id: string, condition = liveFilter(false)): Promise<User | null> {
    const [row] = await this.db.read<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.t.users} u WHERE u.id = $1 AND ${condition}`, [id]);
    return row ? toUser(row) : null;
  }

  async liveUserExists(id: string): Promise<boolean> {
    const rows = await this.db.read(`SELECT 1 FROM ${this.t.users} u WHERE u.id = $1 AND u.deleted_at IS NULL`, [id]);
    return rows.length > 0;
  }

  // Whether a live user other than `excludeId` holds the canonical email.
  async liveEmailTaken(emailNormalized: string, excludeId: string | null = null): Promise<boolean> {
    const rows = await this.db.read(
      `SELECT 1 FROM ${this.t.users} u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL AND ($2::uuid IS NULL OR u.id <> $2::uuid)`,
      [emailNormalized, excludeId],
    );
    return rows.length > 0;
  }

  // The rows whose canonical email a live user already holds, by input index.
  async existingEmails(rows: PreparedUser[]): Promise<ConflictDetail[]> {
    const found = await this.db.query<{ email_normalized: string }>(
      `SELECT email_normalized FROM ${this.t.users} WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL`,
      [[...new Set(rows.map((r) => r.emailNormalized))]],
    );
    const taken = new Set(found.map((r) => r.email_normalized));
    return rows.flatMap((r, index) => (taken.has(r.emailNormalized) ? [{ email: r.emailNormalized, index }] : []));
  }

  // Inserts prepared rows in one transaction (the caller's when one is open; see InsertMany for
  // how). 'error' lets a unique violation fail the batch, 'skip' keeps the existing user,
  // 'update' overwrites its profile fields (and its password only when the row carries one).
  // Returns the rows inserted or updated; their cache entries go after commit.
  async insertMany(rows: PreparedUser[], onConflict: ConflictPolicy): Promise<User[]> {
    // A user created under an id drawn for it has no cache entry to drop (misses are not cached).
    const imported = new Set(rows.flatMap((row) => (row.id ? [row.id.toLowerCase()] : [])));
    return this.inserts.insert(rows, onConflict, async (written) => {
      await this.invalidate(onConflict === 'error' ? written.filter((u) => imported.has(u.id.toLowerCase())).map((u) => u.id) : written.map((u) => u.id));
      if (written.length) await this.outbox.written();
    });
  }
}
