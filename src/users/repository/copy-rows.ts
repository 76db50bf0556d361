import { Transform, type TransformCallback } from 'node:stream';

// PGCOPY\n\377\r\n\0, then a 32-bit flags field and a 32-bit header-extension length.
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIXED_HEADER_BYTES = SIGNATURE.length + 8;
const TRAILER = -1;
// Output is written into buffers of this size (more when one row needs it) and pushed when full.
const OUTPUT_BYTES = 64 * 1024;

// How a column's value is written; a NULL is always written as the framing's nullCell.
// - 'as-is': its bytes unchanged;
// - 'csv-text': an RFC 4180 quoted cell; a value starting with a formula character (after any
//   apostrophes already there) gets a leading apostrophe, so that spreadsheets show it as text;
// - 'json-string': a JSON string, escaped exactly as PostgreSQL's own JSON functions escape;
// - 'timestamp' / 'json-timestamp': a timestamptz as ISO 8601 in UTC with microseconds
//   (YYYY-MM-DDTHH:MM:SS.ffffffZ, as to_char would write it), bare or as a JSON string.
export type CellEncoding = 'as-is' | 'csv-text' | 'json-string' | 'timestamp' | 'json-timestamp';

export interface RowFraming {
  prefix: string;
  separator: string;
  suffix: string;
  // One per column of the COPY, in order: the text written before it, and its encoding.
  cells: readonly { before: string; encoding: CellEncoding }[];
  rowEnd: string;
  nullCell: string;
}

// Turns the output of `COPY (SELECT ...) TO STDOUT (FORMAT binary)` into text rows: each column
// encoded as its cell says, rows framed by a prefix, a separator between rows and a suffix.
// Binary format hands every text value over byte for byte, and a timestamptz as its integer
// microseconds, which is much cheaper for PostgreSQL to send than text it has to format; the
// formatting work runs here instead, on the application's core, while the server reads on.
export class CopyRows extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private trailerRead = false;
  private rows = 0;
  private readonly prefix: Buffer;
  private readonly separator: Buffer;
  private readonly suffix: Buffer;
  private readonly rowEnd: Buffer;
  private readonly nullCell: Buffer;
  private readonly before: Buffer[];
  private readonly encodings: CellEncoding[];
  private out = Buffer.alloc(0);
  private at = 0;

  constructor(framing: RowFraming) {
    super();
    this.prefix = Buffer.from(framing.prefix);
    this.separator = Buffer.from(framing.separator);
    this.suffix = Buffer.from(framing.suffix);
    this.rowEnd = Buffer.from(framing.rowEnd);
    this.nullCell = Buffer.from(framing.nullCell);
    this.before = framing.cells.map((c) => Buffer.from(c.before));
    this.encodings = framing.cells.map((c) => c.encoding);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.trailerRead) return callback();
    try {
      this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      let offset = this.headerRead ? 0 : this.readHeader();
      if (offset < 0) return callback();
      for (let end = this.rowEnding(offset); end > 0; end = this.rowEnding(offset)) {
        this.writeRow(offset, end);
        offset = end;
      }
      this.pending = this.trailerRead ? Buffer.alloc(0) : this.pending.subarray(offset);
      this.flushOutput();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.trailerRead) return callback(new Error('COPY output ended before its trailer'));
    callback(null, this.rows === 0 ? Buffer.concat([this.prefix, this.suffix]) : this.suffix);
  }

  // Returns the offset after the header, or -1 while the header is still incomplete.
  private readHeader(): number {
    if (this.pending.length < FIXED_HEADER_BYTES) return -1;
    if (!this.pending.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
    const end = FIXED_HEADER_BYTES + this.pending.readUInt32BE(SIGNATURE.length + 4);
    if (this.pending.length < end) return -1;
    this.headerRead = true;
    return end;
  }

  // The end of the tuple starting at `offset`, or 0 when it has not fully arrived yet (or the
  // trailer was reached). Also makes room in the output for everything the row can write.
  private rowEnding(offset: number): number {
    const input = this.pending;
    if (input.length < offset + 2) return 0;
    const fields = input.readInt16BE(offset);
    if (fields === TRAILER) {
      this.trailerRead = true;
      return 0;
    }
    if (fields !== this.encodings.length) throw new Error(`expected ${this.encodings.length} columns per COPY row, got ${fields}`);
    let at = offset + 2;
    let room = Math.max(this.prefix.length, this.separator.length) + this.rowEnd.length;
    for (let i = 0; i < fields; i++) {
      if (input.length < at + 4) return 0;
      const length = input.readInt32BE(at);
      at += 4 + Math.max(length, 0);
      room += this.before[i].length + (length < 0 ? this.nullCell.length : maxCellBytes(this.encodings[i], length));
    }
    if (input.length < at) return 0;
    if (this.at + room > this.out.length) {
      this.flushOutput();
      this.out = Buffer.allocUnsafe(Math.max(OUTPUT_BYTES, room));
    }
    return at;
  }

  private writeRow(offset: number, end: number): void {
    const input = this.pending;
    const out = this.out;
    let at = copyBytes(this.rows === 0 ? this.prefix : this.separator, 0, this.rows === 0 ? this.prefix.length : this.separator.length, out, this.at);
    let from = offset + 2;
    for (let i = 0; i < this.encodings.length; i++) {
      at = copyBytes(this.before[i], 0, this.before[i].length, out, at);
      const length = input.readInt32BE(from);
      from += 4;
      if (length < 0) {
        at = copyBytes(this.nullCell, 0, this.nullCell.length, out, at);
        continue;
      }
      at = writeCell(this.encodings[i], input, from, from + length, out, at, this.nullCell);
      from += length;
    }
    if (from !== end) throw new Error('COPY row length mismatch');
    this.at = copyBytes(this.rowEnd, 0, this.rowEnd.length, out, at);
    this.rows++;
  }

  private flushOutput(): void {
    if (this.at === 0) return;
    this.push(this.out.subarray(0, this.at));
    this.out = Buffer.alloc(0);
    this.at = 0;
  }
}

// The most bytes a value of `length` input bytes can take once encoded.
function maxCellBytes(encoding: CellEncoding, length: number): number {
  switch (encoding) {
    case 'as-is':
      return length;
    case 'csv-text':
      return 2 * length + 3;
    case 'json-string':
      return 6 * length + 2;
    default:
      return TIMESTAMP_MAX_BYTES;
  }
}

function writeCell(encoding: CellEncoding, input: Buffer, from: number, end: number, out: Buffer, at: number, nullCell: Buffer): number {
  switch (encoding) {
    case 'as-is':
      return copyBytes(input, from, end, out, at);
    case 'csv-text':
      return writeCsvText(input, from, end, out, at);
    case 'json-string':
      return writeJsonString(input, from, end, out, at);
    case 'timestamp':
    case 'json-timestamp': {
      if (end - from !== 8) throw new Error(`a timestamp column must be sent as timestamptz, got ${end - from} bytes`);
      const quote = encoding === 'json-timestamp';
      const hi = input.readInt32BE(from);
      const lo = input.readUInt32BE(from + 4);
      // ±infinity, which to_char turns into NULL.
      if ((hi === 0x7fffffff && lo === 0xffffffff) || (hi === -0x80000000 && lo === 0)) return copyBytes(nullCell, 0, nullCell.length, out, at);
      if (quote) out[at++] = QUOTE;
      at = writeTimestamp(hi, lo, out, at);
      if (quote) out[at++] = QUOTE;
      return at;
    }
  }
}

// Values are short (a UUID, a name): a loop beats Buffer#copy's call overhead below this length.
const SHORT_COPY = 64;

function copyBytes(source: Buffer, from: number, end: number, out: Buffer, at: number): number {
  if (end - from > SHORT_COPY) return at + source.copy(out, at, from, end);
  while (from < end) out[at++] = source[from++];
  return at;
}

const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const BACKSLASH = 0x5c;
// - = + @ tab and carriage return start a formula in common spreadsheets.
const FORMULA_START = new Set([0x2d, 0x3d, 0x2b, 0x40, 0x09, 0x0d]);

// Works on UTF-8 bytes: every byte it looks for is ASCII, and no byte of a multi-byte character is.
function writeCsvText(input: Buffer, from: number, end: number, out: Buffer, at: number): number {
  out[at++] = QUOTE;
  let first = from;
  while (first < end && input[first] === APOSTROPHE) first++;
  if (first < end && FORMULA_START.has(input[first])) out[at++] = APOSTROPHE;
  while (from < end) {
    const byte = input[from++];
    out[at++] = byte;
    if (byte === QUOTE) out[at++] = QUOTE;
  }
  out[at++] = QUOTE;
  return at;
}

const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x0c: 0x66, 0x0a: 0x6e, 0x0d: 0x72, 0x09: 0x74, [QUOTE]: QUOTE, [BACKSLASH]: BACKSLASH };
const HEX = Buffer.from('0123456789abcdef');

// PostgreSQL's escape_json: \b \f \n \r \t \" \\, other control characters as \u00xx, anything
// else (non-ASCII included) as it is.
function writeJsonString(input: Buffer, from: number, end: number, out: Buffer, at: number): number {
  out[at++] = QUOTE;
  while (from < end) {
    const byte = input[from++];
    if (byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH) {
      out[at++] = byte;
      continue;
    }
    out[at++] = BACKSLASH;
    const short = SHORT_ESCAPES[byte];
    if (short !== undefined) {
      out[at++] = short;
    } else {
      at += out.write('u00', at, 'latin1');
      out[at++] = HEX[byte >> 4];
      out[at++] = HEX[byte & 0xf];
    }
  }
  out[at++] = QUOTE;
  return at;
}

// 2000-01-01 (PostgreSQL's epoch) as days after 0000-03-01, the origin of daysToCivil.
const EPOCH_DAYS = 730425;
// Six-digit years (PostgreSQL goes up to 294276) and the surrounding quotes.
const TIMESTAMP_MAX_BYTES = 31;
const DIGITS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''));

// PostgreSQL sends a timestamptz as a 64-bit count of microseconds since 2000-01-01 UTC, read
// here as its two 32-bit halves: hi * 2^32 + lo does not fit a double exactly, so it is split
// as 2^32 = 4294 * 10^6 + 967296, whose parts do.
function writeTimestamp(hi: number, lo: number, out: Buffer, at: number): number {
  const rest = hi * 967296 + lo;
  const carry = Math.floor(rest / 1e6);
  const seconds = hi * 4294 + carry;
  const micros = rest - carry * 1e6;
  const days = Math.floor(seconds / 86400);
  const daySeconds = seconds - days * 86400;
  const { year, month, day } = daysToCivil(days + EPOCH_DAYS);
  // As to_char's YYYY: at least four digits, a year BC as its positive number.
  const shown = year > 0 ? year : 1 - year;
  if (shown < 10000) {
    at = twoDigits(Math.floor(shown / 100), out, at);
    at = twoDigits(shown % 100, out, at);
  } else {
    at += out.write(String(shown), at, 'latin1');
  }
  out[at++] = 0x2d;
  at = twoDigits(month, out, at);
  out[at++] = 0x2d;
  at = twoDigits(day, out, at);
  out[at++] = 0x54;
  at = twoDigits(Math.floor(daySeconds / 3600), out, at);
  out[at++] = 0x3a;
  at = twoDigits(Math.floor(daySeconds / 60) % 60, out, at);
  out[at++] = 0x3a;
  at = twoDigits(daySeconds % 60, out, at);
  out[at++] = 0x2e;
  at = twoDigits(Math.floor(micros / 10000), out, at);
  at = twoDigits(Math.floor(micros / 100) % 100, out, at);
  at = twoDigits(micros % 100, out, at);
  out[at++] = 0x5a;
  return at;
}

function twoDigits(value: number, out: Buffer, at: number): number {
  out[at] = DIGITS[2 * value];
  out[at + 1] = DIGITS[2 * value + 1];
  return at + 2;
}

// The proleptic Gregorian date `days` after 0000-03-01 (Howard Hinnant's civil_from_days);
// year 0 is 1 BC, as in PostgreSQL.
function daysToCivil(days: number): { year: number; month: number; day: number } {
  const era = Math.floor(days / 146097);
  const dayOfEra = days - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day: dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1 };
}
