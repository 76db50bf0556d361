import type { TableNames } from '../../database/table-names';
import type { CellEncoding, RowFraming } from './copy-rows';
import { liveFilter } from './live-filter';

export type ExportFormat = 'csv' | 'json';

// The exported fields, in order; also the CSV header. The password hash is deliberately absent.
export const EXPORT_FIELDS = [
  'id',
  'email',
  'fullName',
  'isActive',
  'isDeleted',
  'deletedAt',
  'roles',
  'metadata',
  'createdAt',
  'updatedAt',
  'lastLoginAt',
  'version',
] as const;

type ExportField = (typeof EXPORT_FIELDS)[number];

// What PostgreSQL sends for each field, and how CopyRows writes it. PostgreSQL does only what it
// does fastest: plain values, its own JSON text for roles and metadata, timestamps as integers;
// the quoting, the formula guard and the timestamp text (microseconds, so that an import
// restores the exact instant) are written by CopyRows, byte for byte what to_char,
// json_build_object and the former SQL escaping wrote.
const COLUMNS: Record<ExportField, { sql: string; csv: CellEncoding; json: CellEncoding; jsonSql?: string }> = {
  id: { sql: 'u.id::text', csv: 'as-is', json: 'json-string' },
  email: { sql: 'u.email', csv: 'csv-text', json: 'json-string' },
  fullName: { sql: 'u.full_name', csv: 'csv-text', json: 'json-string' },
  isActive: { sql: 'u.is_active::text', csv: 'as-is', json: 'as-is' },
  isDeleted: { sql: 'u.is_deleted::text', csv: 'as-is', json: 'as-is' },
  deletedAt: { sql: 'u.deleted_at', csv: 'timestamp', json: 'json-timestamp' },
  // The CSV cell has always held jsonb's text (`["a", "b"]`), the JSON one json's (`["a","b"]`).
  roles: { sql: 'to_jsonb(u.roles)::text', jsonSql: 'to_json(u.roles)::text', csv: 'csv-text', json: 'as-is' },
  metadata: { sql: 'u.metadata::text', csv: 'csv-text', json: 'as-is' },
  createdAt: { sql: 'u.created_at', csv: 'timestamp', json: 'json-timestamp' },
  updatedAt: { sql: 'u.updated_at', csv: 'timestamp', json: 'json-timestamp' },
  lastLoginAt: { sql: 'u.last_login_at', csv: 'timestamp', json: 'json-timestamp' },
  version: { sql: 'u.version::text', csv: 'as-is', json: 'as-is' },
};

// RFC 4180 with CRLF line ends and a header row; a NULL is an empty, unquoted cell, which keeps
// it apart from an empty string (""). JSON: one array of user objects, one per line, laid out as
// json_build_object lays them out.
const FRAMINGS: Record<ExportFormat, RowFraming> = {
  csv: {
    prefix: `${EXPORT_FIELDS.join(',')}\r\n`,
    separator: '',
    suffix: '',
    cells: EXPORT_FIELDS.map((field, i) => ({ before: i === 0 ? '' : ',', encoding: COLUMNS[field].csv })),
    rowEnd: '\r\n',
    nullCell: '',
  },
  json: {
    prefix: '[\n',
    separator: ',\n',
    suffix: '\n]\n',
    cells: EXPORT_FIELDS.map((field, i) => ({ before: `${i === 0 ? '{' : ', '}"${field}" : `, encoding: COLUMNS[field].json })),
    rowEnd: '}',
    nullCell: 'null',
  },
};

// The export's COPY and how to frame its rows. Rows come in the table's physical order: ORDER BY
// created_at would turn one sequential read into random heap reads through the index, about
// twice the time at a million users.
export function exportStatement(t: TableNames, format: ExportFormat, withDeleted: boolean): { sql: string; framing: RowFraming } {
  const columns = EXPORT_FIELDS.map((field) => (format === 'json' ? (COLUMNS[field].jsonSql ?? COLUMNS[field].sql) : COLUMNS[field].sql));
  return {
    sql: `COPY (SELECT ${columns.join(', ')} FROM ${t.users} u WHERE ${liveFilter(withDeleted)}) TO STDOUT (FORMAT binary)`,
    framing: FRAMINGS[format],
  };
}
