import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UserCache } from '../user-cache.service';
import { BUMP_VERSION, toUser, USER_COLUMNS, type UserRow } from '../user-row';
import type { User } from '../user.model';
import type { ConflictDetail } from '../users.errors';
import { UNUSABLE_PASSWORD } from '../user-rules';
import { liveFilter } from './live-filter';
import type { PreparedUser } from './prepared-users';
import { translateWriteError } from './sql-errors';

// unnest() binds one array per column, so a chunk is bounded by statement size, not by
// PostgreSQL's 65,535 bind parameters; 5,000 rows keeps each statement a few MB at most.
export const INSERT_CHUNK_ROWS = 5000;

export type ConflictPolicy = 'error' | 'skip' | 'update';

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
    private readonly t: TableNames,
  ) {}

  // Runs a write that returns user rows (at least their id) and schedules the cache invalidation
  // of each for after commit. A unique violation on the live email becomes UserAlreadyExistsError.
  async write<T extends Pick<UserRow, 'id'> = UserRow>(sql: string, params: unknown[]): Promise<T[]> {
    let rows: T[];
    try {
      rows = await this.db.query<T>(sql, params);
    } catch (error) {
      throw translateWriteError(error, this.t);
    }
    await this.invalidate(rows.map((r) => r.id));
    return rows;
  }

  // Drops the users' cache entries once the ambient transaction commits (at once without one).
  async invalidate(ids: string[]): Promise<void> {
    if (ids.length) await this.db.afterCommit(() => this.cache.delete(ids));
  }

  // `UPDATE users u SET <set>, <version bump> WHERE <where>`: the one statement every change to
  // what a client or a token relies on goes through. `where` and `set` use `u` and $n from
  // `params`; returns the changed users (`returning` adds columns to USER_COLUMNS).
  async update<T extends UserRow = UserRow>(set: string, where: string, params: unknown[], returning = ''): Promise<T[]> {
    return this.write<T>(`UPDATE ${this.t.users} u SET ${set}, ${BUMP_VERSION}
       WHERE ${where} RETURNING ${USER_COLUMNS}${returning}`, params);
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

  // Inserts prepared rows with INSERT ... SELECT FROM unnest(...), chunked, in one transaction
  // (the caller's when one is open). 'error' lets a unique violation fail the batch, 'skip' keeps
  // the existing user, 'update' overwrites its profile fields (and its password only when the
  // row carries one). Returns the rows inserted or updated.
  async insertMany(rows: PreparedUser[], onConflict: ConflictPolicy): Promise<User[]> {
    if (rows.length === 0) return [];
    const conflictClause = {
      error: '',
      skip: 'ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO NOTHING',
      update: `ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET full_name = EXCLUDED.full_name,
                 is_active = EXCLUDED.is_active, roles = EXCLUDED.roles, metadata = EXCLUDED.metadata,
                 hashed_password = CASE WHEN EXCLUDED.hashed_password = '${UNUSABLE_PASSWORD}' THEN u.hashed_password ELSE EXCLUDED.hashed_password END,
                 ${BUMP_VERSION}`,
    }[onConflict];
    return this.db.transaction(async () => {
      const users: User[] = [];
      for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
        const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
        const inserted = await this.write(
          `INSERT INTO ${this.t.users} AS u (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at)
           SELECT COALESCE(r.id, gen_random_uuid()), r.email, r.email_normalized, r.full_name, r.hashed_password, r.is_active,
                  ARRAY(SELECT jsonb_array_elements_text(r.roles)), r.metadata, COALESCE(r.created_at, now()), COALESCE(r.created_at, now()), r.last_login_at
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::jsonb[], $8::jsonb[], $9::timestamptz[], $10::timestamptz[])
                AS r(id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, last_login_at)
           ${conflictClause}
           RETURNING ${USER_COLUMNS}`,
          [
            chunk.map((r) => r.id ?? null),
            chunk.map((r) => r.email),
            chunk.map((r) => r.emailNormalized),
            chunk.map((r) => r.fullName),
            chunk.map((r) => r.hashedPassword),
            chunk.map((r) => r.isActive),
            chunk.map((r) => JSON.stringify(r.roles)),
            chunk.map((r) => JSON.stringify(r.metadata)),
            chunk.map((r) => r.createdAt ?? null),
            chunk.map((r) => r.lastLoginAt ?? null),
          ],
        );
        users.push(...inserted.map(toUser));
      }
      return users;
    });
  }
}
