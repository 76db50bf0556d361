import { UserValidationError } from './users.errors';

// The export prefixes `'` to any cell that starts with a formula character, after any `'`s
// already there, so removing exactly one `'` from such a cell restores the original value.
const FORMULA_GUARD = /^'+[=+\-@\t\r]/;

// Parses an RFC 4180 document whose first record names the columns (the export's format) into
// one object per record. Records may end with CRLF or LF; quoted fields may hold commas, quotes
// and line breaks. Malformed input is a validation error naming the record.
export function parseUsersCsv(text: string): Record<string, string>[] {
  const records = parseRecords(text.replace(/^\uFEFF/, ''));
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  if (new Set(header).size !== header.length) throw UserValidationError.field('csv', 'the header names a column twice');
  return rows.map((cells, index) => {
    if (cells.length !== header.length) {
      throw UserValidationError.field('csv', `record ${index + 1} has ${cells.length} fields, the header has ${header.length}`);
    }
    return Object.fromEntries(header.map((name, i) => [name, unguard(cells[i])]));
  });
}

function unguard(cell: string): string {
  return FORMULA_GUARD.test(cell) ? cell.slice(1) : cell;
}

function parseRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  const fail = (reason: string): never => {
    throw UserValidationError.field('csv', `record ${records.length}: ${reason}`);
  };
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) fail('unterminated quoted field');
        cell += text.slice(i, quote);
        i = quote + 1;
        if (text[i] !== '"') break;
        cell += '"';
        i++;
      }
      if (i < text.length && !isDelimiterAt(text, i)) fail('unexpected character after a closing quote');
    } else {
      const start = i;
      while (i < text.length && !isDelimiterAt(text, i)) i++;
      cell = text.slice(start, i);
      if (cell.includes('"')) fail('a quote inside an unquoted field');
    }
    record.push(cell);
    if (text[i] === ',') {
      i++;
      if (i === text.length) record.push('');
      continue;
    }
    i += text[i] === '\r' ? 2 : 1;
    records.push(record);
    record = [];
  }
  if (record.length) records.push(record);
  return records;
}

function isDelimiterAt(text: string, i: number): boolean {
  return text[i] === ',' || text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n');
}
