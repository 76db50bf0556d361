import { Injectable } from '@nestjs/common';
import { pipeline, type Readable } from 'node:stream';
import { UsersSettings } from '../users.options';
import { Db, type SqlStatement } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import type { FieldIssue } from '../../errors/domain-error';
import { canonicalEmail } from '../email';
import type { NewUser, User } from '../user.model';
import { UserAlreadyExistsError, UserValidationError } from '../users.errors';
import { CopyRows } from './copy-rows';
import { exportStatement, type ExportFormat } from './export-sql';
import { normalizeRows, previewUser, withExtras, type ImportExtras, type ImportRow } from './import-rows';
import { duplicatesWithin, prepareUsers, type PreparedUser } from './prepared-users';
import { translateIdConflict } from './sql-errors';
import { UserStore, type ConflictPolicy } from './user-store';

export type { ConflictPolicy } from './user-store';
export type { ImportRow } from './import-rows';

export interface ExportOptions {
  withDeleted?: boolean;
  // Runs, and commits, on the export's own connection before the COPY starts: the REST route's
  // audit row, so that no byte is streamed unaudited and the export never waits for a second
  // connection while holding one. The export fails if it fails.
  prologue?: SqlStatement;
}

export interface ImportOptions {
  dryRun?: boolean;
  onConflict?: ConflictPolicy;
}

// An import validated and hashed by prepareImport, for writeImport: the rows to write (with the
// fields the caller gave, which an 'update' keeps to), or a dry run's preview.
export interface PreparedImport {
  given: NewUser[];
  rows: PreparedUser[];
  onConflict: ConflictPolicy;
  preview?: User[];
}


const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['error', 'skip', 'update'];

// Streaming CSV/JSON export straight from PostgreSQL, and all-or-nothing import.
@Injectable()
export class UserTransfer {
  constructor(
    private readonly config: UsersSettings,
    private readonly db: Db,
    private readonly store: UserStore,
    private readonly t: TableNames,
  ) {}

  // RFC 4180 with CRLF line ends and a header row.
  exportUsersToCsv(options: ExportOptions = {}): Promise<Readable> {
    return this.copyOut('csv', options);
  }

  // One JSON array of user objects, one per line.
  exportUsersToJson(options: ExportOptions = {}): Promise<Readable> {
    return this.copyOut('json', options);
  }

  // All or nothing: every bad row is reported in one UserValidationError, by index, before
  // anything is written. Duplicates inside the batch are always an error; against existing
  // users `onConflict` decides: 'error' throws UserAlreadyExistsError, 'skip' keeps the existing
  // user (and returns only the created ones), 'update' overwrites its profile fields (matched by
  // email; an id given for that row is not applied). A row's id must not belong to another user.
  // A dry run checks all of this and writes nothing; it returns the users as they would be
  // written, with `id` '' where the database would assign it, and a provisional
  // updatedAt/version.
  async importUsersFromDicts(userDicts: readonly ImportRow[], options: ImportOptions = {}): Promise<User[]> {
    return this.writeImport(await this.prepareImport(userDicts, options));
  }

  // The part of an import that writes nothing: validation, conflicts, the dry run's preview and
  // the argon2 hashing of plaintext passwords, so that a caller can do it before it opens (and
  // locks rows in) the transaction that writeImport joins.
  async prepareImport(userDicts: readonly ImportRow[], options: ImportOptions = {}): Promise<PreparedImport> {
    const onConflict = options.onConflict ?? 'error';
    if (!CONFLICT_POLICIES.includes(onConflict)) throw UserValidationError.field('onConflict', `must be one of ${CONFLICT_POLICIES.join(', ')}`);
    if (!Array.isArray(userDicts)) throw UserValidationError.field('users', 'must be an array');
    const { users, extras, issues } = normalizeRows(userDicts);
    const validated = await this.validate(users, extras, issues);
    const existing = await this.store.existingEmails(validated);
    const conflicts = [...duplicatesWithin(validated), ...(onConflict === 'error' ? existing : [])];
    if (conflicts.length) throw new UserAlreadyExistsError(conflicts.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)));
    if (options.dryRun) {
      const skipped = new Set(onConflict === 'skip' ? existing.map((c) => c.index) : []);
      return { given: users, rows: [], onConflict, preview: validated.filter((_, index) => !skipped.has(index)).map(previewUser) };
    }
    const hashed = users.some((u) => u.password !== undefined) ? withExtras(await prepareUsers(users, { allowMissingPassword: true }), extras) : validated;
    return { given: users, rows: hashed, onConflict };
  }

  // Writes a prepared import (a dry run's preview is returned as it is).
  async writeImport(prepared: PreparedImport): Promise<User[]> {
    if (prepared.preview) return prepared.preview;
    try {
      if (prepared.onConflict !== 'update') return await this.store.insertMany(prepared.rows, prepared.onConflict);
      // The current values of the fields a row leaves out are read with the rows locked, in the
      // write's transaction: a change committed in between would otherwise be overwritten with
      // what was read before it.
      return await this.db.transaction(async () => this.store.insertMany(await this.keepOmittedFields(prepared.rows, prepared.given), 'update'));
    } catch (error) {
      throw translateIdConflict(error, this.t);
    }
  }

  // Streams the export's COPY through Db (a connection of its own, the export's statement
  // timeout, the prologue first), framed as CSV or JSON lines.
  private async copyOut(format: ExportFormat, options: ExportOptions): Promise<Readable> {
    const { sql, framing } = exportStatement(this.t, format, options.withDeleted === true);
    const source = await this.db.copyOut(sql, { statementTimeoutMs: this.config.exportStatementTimeoutMs, prologue: options.prologue });
    const rows = new CopyRows(framing);
    // A failure on either side destroys both: the consumer sees it on `rows`, and Db, seeing the
    // COPY end early, closes its connection.
    pipeline(source, rows, () => undefined);
    return rows;
  }

  // With onConflict 'update', a row updates only the fields it carries: for rows that match a
  // live user, the fields the row left out keep the user's current values.
  private async keepOmittedFields(rows: PreparedUser[], given: NewUser[]): Promise<PreparedUser[]> {
    const current = await this.db.query<{ email_normalized: string; full_name: string | null; is_active: boolean; roles: string[]; metadata: Record<string, unknown> }>(
      `SELECT email_normalized, full_name, is_active, roles, metadata FROM ${this.t.users} WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL FOR UPDATE`,
      [rows.map((r) => r.emailNormalized)],
    );
    const byEmail = new Map(current.map((c) => [c.email_normalized, c]));
    return rows.map((row, i) => {
      const existing = byEmail.get(row.emailNormalized);
      if (!existing) return row;
      const input = given[i];
      return {
        ...row,
        fullName: input.fullName === undefined ? existing.full_name : row.fullName,
        isActive: input.isActive === undefined ? existing.is_active : row.isActive,
        roles: input.roles === undefined ? existing.roles : row.roles,
        metadata: input.metadata === undefined ? existing.metadata : row.metadata,
      };
    });
  }

  // Runs the bulk validation without hashing and merges its issues with the import's own, so
  // that one error lists every bad row.
  private async validate(users: NewUser[], extras: ImportExtras[], issues: FieldIssue[]): Promise<PreparedUser[]> {
    let prepared: PreparedUser[] = [];
    try {
      prepared = await prepareUsers(users, { allowMissingPassword: true, hashPasswords: false });
    } catch (error) {
      if (!(error instanceof UserValidationError)) throw error;
      issues.push(...error.issues);
    }
    issues.push(...(await this.idIssues(users, extras)));
    if (issues.length) throw new UserValidationError(issues.sort((a, b) => (a.index ?? -1) - (b.index ?? -1)));
    return withExtras(prepared, extras);
  }

  // An imported id must be unique in the batch and must not name another user (a live user
  // with another email, or a soft-deleted one).
  private async idIssues(users: NewUser[], extras: ImportExtras[]): Promise<FieldIssue[]> {
    const issues: FieldIssue[] = [];
    const seen = new Set<string>();
    extras.forEach(({ id }, index) => {
      if (id === undefined) return;
      if (seen.has(id)) issues.push({ field: 'id', reason: 'appears twice in this batch', index });
      seen.add(id);
    });
    if (seen.size === 0) return issues;
    const owners = await this.db.query<{ id: string; email_normalized: string; deleted: boolean }>(
      `SELECT id, email_normalized, deleted_at IS NOT NULL AS deleted FROM ${this.t.users} WHERE id = ANY($1::uuid[])`,
      [[...seen]],
    );
    const byId = new Map(owners.map((o) => [o.id, o]));
    extras.forEach(({ id }, index) => {
      const owner = id === undefined ? undefined : byId.get(id);
      const email = users[index]?.email;
      if (owner && (owner.deleted || typeof email !== 'string' || owner.email_normalized !== canonicalEmail(email))) {
        issues.push({ field: 'id', reason: 'belongs to another user', index });
      }
    });
    return issues;
  }
}
