import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { BUMP_VERSION } from '../user-row';
import type { User } from '../user.model';
import { UNUSABLE_PASSWORD } from '../user-rules';
import { translateWriteError } from './sql-errors';
import type { PreparedUser } from './prepared-users';
import { Outbox } from '../events/outbox';

export type ConflictPolicy = 'error' | 'skip' | 'update';

// Rows go through a temporary table that lives only inside the write's transaction (a rollback
// leaves nothing; a transaction-mode pooler never sees it outlive the transaction).
const STAGING = 'users_insert_staging';
const STAGING_COLUMNS = `ord int, id uuid, email text, email_normalized text, full_name text, hashed_password text,
  is_active boolean, roles text[], metadata jsonb, created_at timestamptz, last_login_at timestamptz`;
// Rows per string handed to COPY: few writes, and no one string of the whole batch.
const LINES_PER_CHUNK = 500;

// What the database decides for a written row. Every other field of the user is the row's own
// (an update writes them from the row as well) or follows from the row being live. Metadata comes
// back as stored: jsonb keeps an object's keys in its own order, and the user carries them as every
// read does. The whole row would cost the server its text and the client its parsing for columns
// the client already holds.
const WRITTEN_COLUMNS = 'u.id, u.email, u.email_normalized, u.metadata, u.created_at, u.updated_at, u.last_login_at, u.version';

interface WrittenRow {
  id: string;
  email: string;
  email_normalized: string;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  last_login_at: Date | null;
  version: number;
}

// What the 'update' policy writes over an existing user, as its event names them.
const UPDATED_FIELDS = ['fullName', 'isActive', 'roles', 'metadata'];

const CONFLICT_CLAUSES: Record<ConflictPolicy, string> = {
  error: '',
  skip: 'ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO NOTHING',
  update: `ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET full_name = EXCLUDED.full_name,
    is_active = EXCLUDED.is_active, roles = EXCLUDED.roles, metadata = EXCLUDED.metadata,
    hashed_password = CASE WHEN EXCLUDED.hashed_password = '${UNUSABLE_PASSWORD}' THEN u.hashed_password ELSE EXCLUDED.hashed_password END,
    ${BUMP_VERSION}`,
};

// Inserting many users at about the speed of COPY. Without a conflict policy ('error': any
// existing email fails the batch) the rows are copied straight into the users table, as a plain
// COPY would: ids are drawn here, the timestamps are the transaction's, and the users returned are
// built from the rows (PostgreSQL's COPY batches its heap writes, which an INSERT never does). With
// 'skip' or 'update' the rows are copied into a temporary table (COPY parses text far faster than
// PostgreSQL unpacks one array parameter per column), then one INSERT ... SELECT ... ON CONFLICT
// writes them all, in input order, with RETURNING.
@Injectable()
export class InsertMany {
  constructor(
    private readonly db: Db,
    private readonly outbox: Outbox,
    private readonly t: TableNames,
  ) {}

  // In one transaction (the caller's when one is open). 'error' lets a unique violation fail the
  // batch, 'skip' keeps the existing user, 'update' overwrites its profile fields and its hash
  // (unless the row carries none). `beforeCommit` runs inside the transaction once the rows are
  // written (the caller's cache invalidation, an audit row). Returns the rows inserted or
  // updated, in input order. The rows' canonical emails must differ (the callers refuse
  // duplicates first): a written row is matched to its input by it, the one key an update keeps.
  async insert(rows: readonly PreparedUser[], onConflict: ConflictPolicy, beforeCommit?: (written: User[]) => Promise<void>): Promise<User[]> {
    if (rows.length === 0) return [];
    const byEmail = new Map(rows.map((row) => [row.emailNormalized, row]));
    if (byEmail.size !== rows.length) throw new Error('InsertMany.insert needs rows with distinct canonical emails');
    if (onConflict === 'error') return this.copyStraight(rows, beforeCommit);
    return this.db.transaction(async () => {
      await this.db.query(`CREATE TEMP TABLE ${STAGING} (${STAGING_COLUMNS}) ON COMMIT DROP`);
      await this.db.copyIn(`COPY ${STAGING} FROM STDIN`, copyLines(rows));
      let written: WrittenRow[];
      // Each written row gets its event in the same statement: user.created, or for a row that
      // updated an existing user, user.updated with the fields the policy writes (and the
      // password when the row carried one).
      const statement = this.outbox.statement(
        `INSERT INTO ${this.t.users} AS u (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at)
           SELECT COALESCE(r.id, gen_random_uuid()), r.email, r.email_normalized, r.full_name, r.hashed_password, r.is_active, r.roles, r.metadata,
                  COALESCE(r.created_at, now()), COALESCE(r.created_at, now()), r.last_login_at
           FROM ${STAGING} r ORDER BY r.ord
           ${CONFLICT_CLAUSES[onConflict]}
           RETURNING ${WRITTEN_COLUMNS}, (u.xmax = 0) AS inserted`,
        [],
        onConflict === 'update'
          ? {
              type: 'user.updated',
              fields: UPDATED_FIELDS,
              inserted: 'created-or-type',
              extraField: { name: 'password', when: `s.hashed_password <> '${UNUSABLE_PASSWORD}'`, join: `JOIN ${STAGING} s ON s.email_normalized = w.email_normalized` },
            }
          : { type: 'user.created', inserted: 'created-only' },
      );
      try {
        written = await this.db.query<WrittenRow>(statement.sql, statement.params);
      } catch (error) {
        throw translateWriteError(error, this.t);
      }
      // Dropped now rather than at commit, so that a second call in the same transaction can
      // create it again.
      await this.db.query(`DROP TABLE ${STAGING}`);
      const users = written.map((w) => writtenUser(w, byEmail.get(w.email_normalized)!));
      await beforeCommit?.(users);
      return users;
    });
  }

  // The 'error' policy: one COPY into the users table, and the events of the new users in the
  // same transaction. A taken email fails the COPY with the unique violation of the live-email
  // index, as it fails the INSERT.
  private async copyStraight(rows: readonly PreparedUser[], beforeCommit?: (written: User[]) => Promise<void>): Promise<User[]> {
    return this.db.transaction(async () => {
      // What now() gives every row of this transaction, as text: the microseconds a Date drops.
      const [{ now, exact }] = await this.db.query<{ now: Date; exact: string }>(`SELECT now() AS now, now()::text AS exact`);
      const ids = rows.map((row) => (row.id ?? randomUUID()).toLowerCase());
      try {
        await this.db.copyIn(
          `COPY ${this.t.users} (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at) FROM STDIN`,
          directLines(rows, ids, exact),
        );
      } catch (error) {
        throw translateWriteError(error, this.t);
      }
      const users = rows.map((row, i) => builtUser(row, ids[i], now));
      await this.outbox.record(users, { type: 'user.created' });
      await beforeCommit?.(users);
      return users;
    });
  }
}

// A user as the table now holds it, from the row copied in: version 1, the transaction's time
// unless the row brought its own (an import), and the metadata in jsonb's key order, as every
// read returns it.
function builtUser(row: PreparedUser, id: string, now: Date): User {
  const createdAt = row.createdAt === undefined ? now : new Date(row.createdAt);
  return {
    id,
    email: row.email,
    fullName: row.fullName,
    isActive: row.isActive,
    isDeleted: false,
    deletedAt: null,
    roles: [...row.roles],
    metadata: inJsonbOrder(row.metadata) as Record<string, unknown>,
    createdAt,
    updatedAt: createdAt,
    lastLoginAt: row.lastLoginAt === undefined || row.lastLoginAt === null ? null : new Date(row.lastLoginAt),
    version: 1,
  };
}

// jsonb keeps an object's keys shorter first, then in byte order (and one of each).
function inJsonbOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inJsonbOrder);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((key) => [key, inJsonbOrder((value as Record<string, unknown>)[key])]));
}

// The rows in COPY's text format for the users table, in chunks of lines.
function* directLines(rows: readonly PreparedUser[], ids: readonly string[], now: string): Generator<string> {
  for (let start = 0; start < rows.length; start += LINES_PER_CHUNK) {
    let chunk = '';
    for (let i = start; i < Math.min(start + LINES_PER_CHUNK, rows.length); i++) {
      const r = rows[i];
      const created = copyValue(timestamp(r.createdAt) ?? now);
      chunk += `${ids[i]}\t${copyValue(r.email)}\t${copyValue(r.emailNormalized)}\t${copyValue(r.fullName)}\t${copyValue(r.hashedPassword)}\t${
        r.isActive ? 't' : 'f'
      }\t${copyValue(arrayLiteral(r.roles))}\t${copyValue(JSON.stringify(r.metadata))}\t${created}\t${created}\t${copyValue(timestamp(r.lastLoginAt))}\n`;
    }
    yield chunk;
  }
}

function writtenUser(written: WrittenRow, row: PreparedUser): User {
  return {
    id: written.id,
    email: written.email,
    fullName: row.fullName,
    isActive: row.isActive,
    isDeleted: false,
    deletedAt: null,
    roles: [...row.roles],
    metadata: written.metadata,
    createdAt: written.created_at,
    updatedAt: written.updated_at,
    lastLoginAt: written.last_login_at,
    version: written.version,
  };
}

// The rows in COPY's text format, in chunks of lines: one tab-separated line per row, in the
// staging table's column order.
function* copyLines(rows: readonly PreparedUser[]): Generator<string> {
  for (let start = 0; start < rows.length; start += LINES_PER_CHUNK) {
    let chunk = '';
    for (let ord = start; ord < Math.min(start + LINES_PER_CHUNK, rows.length); ord++) {
      const r = rows[ord];
      chunk += `${ord}\t${copyValue(r.id)}\t${copyValue(r.email)}\t${copyValue(r.emailNormalized)}\t${copyValue(r.fullName)}\t${copyValue(r.hashedPassword)}\t${
        r.isActive ? 't' : 'f'
      }\t${copyValue(arrayLiteral(r.roles))}\t${copyValue(JSON.stringify(r.metadata))}\t${copyValue(timestamp(r.createdAt))}\t${copyValue(timestamp(r.lastLoginAt))}\n`;
    }
    yield chunk;
  }
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

// A value in COPY's text format: \N for NULL, and backslash, tab and line breaks escaped.
function copyValue(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : value;
}

// A text[] literal with every element quoted, so that no role's characters can change its shape.
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

// Strings keep the microseconds a Date would drop; they always carry a zone (see the import).
function timestamp(value: Date | string | null | undefined): string | null | undefined {
  return value instanceof Date ? value.toISOString() : value;
}
