import { isRealTimestamp } from '../../common/calendar';
import { isUuid } from '../../common/paging';
import type { FieldIssue } from '../../errors/domain-error';
import type { NewUser, User } from '../user.model';
import type { PreparedUser } from './prepared-users';

// Turning the rows an import is given (NewUser objects, user objects from the JSON export,
// records of the CSV export whose cells are all strings) into what the bulk validation takes,
// plus the fields only an import may set. No database.

// A row to import: a NewUser, a user object from the JSON export, or a record of the CSV export
// (see parseUsersCsv), whose cells are all strings.
export type ImportRow = NewUser | Record<string, unknown>;

// The fields only an import may set (the database decides them otherwise).
export interface ImportExtras {
  id?: string;
  createdAt?: Date | string;
  lastLoginAt?: Date | string | null;
}

// Fields the export writes but the database decides on import.
const EXPORT_ONLY_FIELDS = new Set(['isDeleted', 'deletedAt', 'updatedAt', 'version']);
const IMPORT_FIELDS = new Set(['id', 'email', 'password', 'hashedPassword', 'fullName', 'isActive', 'roles', 'metadata', 'createdAt', 'lastLoginAt']);
// A zone is required: a timestamp without one would depend on the session's time zone.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

export function withExtras(rows: PreparedUser[], extras: ImportExtras[]): PreparedUser[] {
  return rows.map((row, index) => ({ ...row, ...extras[index] }));
}

export function previewUser(row: PreparedUser): User {
  const now = new Date();
  return {
    id: row.id ?? '',
    email: row.email,
    fullName: row.fullName,
    isActive: row.isActive,
    isDeleted: false,
    deletedAt: null,
    roles: row.roles,
    metadata: row.metadata,
    createdAt: row.createdAt === undefined ? now : new Date(row.createdAt),
    updatedAt: now,
    lastLoginAt: row.lastLoginAt == null ? null : new Date(row.lastLoginAt),
    version: 1,
  };
}

// Turns each row into the NewUser the bulk validation understands, plus the fields only an
// import may set, accepting the string forms a CSV record carries. Empty cells mean "absent"
// (for fullName: no name).
export function normalizeRows(rows: readonly unknown[]): { users: NewUser[]; extras: ImportExtras[]; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const users: NewUser[] = [];
  const extras: ImportExtras[] = [];
  rows.forEach((row, index) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      users.push(row as NewUser);
      extras.push({});
      return;
    }
    const issue = (field: string, reason: string) => issues.push({ field, reason, index });
    const user: Record<string, unknown> = {};
    const extra: ImportExtras = {};
    for (const [field, value] of Object.entries(row)) {
      if (EXPORT_ONLY_FIELDS.has(field)) {
        if (field === 'isDeleted' && (value === true || value === 'true')) issue(field, 'soft-deleted users cannot be imported');
      } else if (!IMPORT_FIELDS.has(field)) {
        issue(field, 'is not an importable field');
      } else if (field === 'email') {
        user.email = value;
      } else if (field === 'fullName') {
        user.fullName = isBlank(value) ? null : value;
      } else if (isBlank(value)) {
        if (field === 'lastLoginAt') extra.lastLoginAt = null;
      } else if (field === 'id') {
        if (isUuid(value)) extra.id = value.toLowerCase();
        else issue(field, 'must be a UUID');
      } else if (field === 'createdAt' || field === 'lastLoginAt') {
        const at = timestamp(value);
        if (at === undefined) issue(field, 'must be an ISO 8601 timestamp with a time zone');
        else extra[field] = at;
      } else {
        const parsed = parseField(field, value);
        if (parsed.reason) issue(field, parsed.reason);
        else user[field] = parsed.value;
      }
    }
    users.push(user as unknown as NewUser);
    extras.push(extra);
  });
  return { users, extras, issues };
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function timestamp(value: unknown): Date | string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value !== 'string' || !ISO_TIMESTAMP.test(value) || !isRealTimestamp(value)) return undefined;
  return value;
}

// String forms of the typed fields (as in a CSV record); other values go to the bulk validation
// as they are.
function parseField(field: string, value: unknown): { value?: unknown; reason?: string } {
  if (typeof value !== 'string') return { value };
  if (field === 'isActive') {
    if (value === 'true' || value === 'false') return { value: value === 'true' };
    return { reason: "must be a boolean or 'true'/'false'" };
  }
  if (field === 'roles') return parseRoles(value);
  if (field === 'metadata') {
    try {
      return { value: JSON.parse(value) };
    } catch {
      return { reason: 'must be a JSON object' };
    }
  }
  return { value };
}

// Roles as a JSON array (the export's form) or a PostgreSQL-style list `{a,b}`.
function parseRoles(text: string): { value?: unknown; reason?: string } {
  const list = /^\{(.*)\}$/s.exec(text.trim());
  if (list) return { value: list[1] === '' ? [] : list[1].split(',').map((r) => r.trim()) };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { reason: 'must be a JSON array or a {a,b} list' };
  }
}
