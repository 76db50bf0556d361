import { Transform, type TransformCallback } from 'node:stream';

// PGCOPY\n\377\r\n\0, then a 32-bit flags field and a 32-bit header-extension length.
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIXED_HEADER_BYTES = SIGNATURE.length + 8;
const TRAILER = -1;

export interface RowFraming {
  prefix: string;
  separator: string;
  suffix: string;
}

// Turns the output of `COPY (SELECT <one text column>) TO STDOUT (FORMAT binary)` into the bare
// column values, framed by a prefix, a separator between rows and a suffix. Binary format
// passes every byte through untouched, which the text and CSV formats do not (they escape
// backslashes or quote line breaks), so the SQL alone decides what the client receives.
export class CopyRows extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private trailerRead = false;
  private rows = 0;
  private readonly prefix: Buffer;
  private readonly separator: Buffer;
  private readonly suffix: Buffer;

  constructor(framing: RowFraming) {
    super();
    this.prefix = Buffer.from(framing.prefix);
    this.separator = Buffer.from(framing.separator);
    this.suffix = Buffer.from(framing.suffix);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.trailerRead) return callback();
    try {
      this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      const parts: Buffer[] = [];
      let offset = this.headerRead ? 0 : this.readHeader();
      if (offset < 0) return callback();
      for (let row = this.nextRow(offset); row; row = this.nextRow(offset)) {
        parts.push(this.rows === 0 ? this.prefix : this.separator, row.value);
        this.rows++;
        offset = row.end;
      }
      this.pending = this.trailerRead ? Buffer.alloc(0) : this.pending.subarray(offset);
      callback(null, parts.length ? Buffer.concat(parts) : undefined);
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

  // The next complete one-column tuple starting at `offset`, or undefined when it has not fully
  // arrived yet (or the trailer was reached).
  private nextRow(offset: number): { value: Buffer; end: number } | undefined {
    const buffer = this.pending;
    if (buffer.length < offset + 2) return undefined;
    const fields = buffer.readInt16BE(offset);
    if (fields === TRAILER) {
      this.trailerRead = true;
      return undefined;
    }
    if (fields !== 1) throw new Error(`expected one column per COPY row, got ${fields}`);
    if (buffer.length < offset + 6) return undefined;
    const length = buffer.readInt32BE(offset + 2);
    if (length < 0) throw new Error('a COPY row value was NULL');
    const end = offset + 6 + length;
    if (buffer.length < end) return undefined;
    return { value: buffer.subarray(offset + 6, end), end };
  }
}
