import { Readable } from 'node:stream';
import { CopyRows, type RowFraming } from './copy-rows';

// A binary COPY stream as PostgreSQL writes it: text values as bytes, timestamptz as microseconds
// since 2000-01-01 UTC, null as length -1.
type Value = string | bigint | null;
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

function copyStream(rows: Value[][]): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const value of row) {
      const length = Buffer.alloc(4);
      if (value === null) {
        length.writeInt32BE(-1);
        parts.push(length);
      } else if (typeof value === 'bigint') {
        const micros = Buffer.alloc(8);
        micros.writeBigInt64BE(value);
        length.writeInt32BE(8);
        parts.push(length, micros);
      } else {
        const bytes = Buffer.from(value);
        length.writeInt32BE(bytes.length);
        parts.push(length, bytes);
      }
    }
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

async function frame(framing: RowFraming, input: Buffer, chunkBytes = input.length): Promise<string> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; at += chunkBytes) chunks.push(input.subarray(at, at + chunkBytes));
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(new CopyRows(framing))) out.push(chunk as Buffer);
  return Buffer.concat(out).toString('utf8');
}

const CSV: RowFraming = {
  prefix: 'a,b,c\r\n',
  separator: '',
  suffix: '',
  cells: [
    { before: '', encoding: 'as-is' },
    { before: ',', encoding: 'csv-text' },
    { before: ',', encoding: 'timestamp' },
  ],
  rowEnd: '\r\n',
  nullCell: '',
};
const JSON_LINES: RowFraming = {
  prefix: '[\n',
  separator: ',\n',
  suffix: '\n]\n',
  cells: [
    { before: '{"a" : ', encoding: 'json-string' },
    { before: ', "b" : ', encoding: 'json-timestamp' },
  ],
  rowEnd: '}',
  nullCell: 'null',
};

function micros(iso: string, extra = 0n): bigint {
  return BigInt(Date.parse(iso) - POSTGRES_EPOCH_MS) * 1000n + extra;
}

describe('CopyRows', () => {
  it('frames rows the same whatever the chunk boundaries', async () => {
    const input = copyStream([
      ['1', 'plain', micros('2024-02-29T23:59:59.123Z', 456n)],
      ['2', 'Bob, "The Builder"', null],
      ['3', null, micros('2000-01-01T00:00:00.000Z')],
    ]);
    const expected = [
      'a,b,c',
      '1,"plain",2024-02-29T23:59:59.123456Z',
      '2,"Bob, ""The Builder""",',
      '3,,2000-01-01T00:00:00.000000Z',
      '',
    ].join('\r\n');
    await expect(frame(CSV, input)).resolves.toBe(expected);
    await expect(frame(CSV, input, 1)).resolves.toBe(expected);
    await expect(frame(CSV, input, 7)).resolves.toBe(expected);
  });

  it('writes the prefix and suffix alone when there are no rows', async () => {
    await expect(frame(CSV, copyStream([]))).resolves.toBe('a,b,c\r\n');
    await expect(frame(JSON_LINES, copyStream([]))).resolves.toBe('[\n\n]\n');
  });

  it('guards formula starts in CSV text, after any apostrophes already there', async () => {
    const values = ['-1', '=A1', '+x', '@x', '\tx', '\rx', "'=x", "''-x", "'x", 'x=1', '', "'"];
    const csv = await frame(CSV, copyStream(values.map((v, i) => [String(i), v, null])));
    const cells = csv.split('\r\n').slice(1, -1).map((line) => line.slice(line.indexOf(',') + 1, line.lastIndexOf(',')));
    expect(cells).toEqual(['"\'-1"', '"\'=A1"', '"\'+x"', '"\'@x"', '"\'\tx"', '"\'\rx"', `"''=x"`, `"'''-x"`, `"'x"`, '"x=1"', '""', `"'"`]);
  });

  it('escapes JSON strings as PostgreSQL does: short escapes, \\u00xx for other control characters, the rest as it is', async () => {
    const value = 'q"b\\s/\b\f\n\r\t\u0001\u001f\u007f é 😀';
    const json = await frame(JSON_LINES, copyStream([[value, null]]));
    expect(json).toBe('[\n{"a" : "q\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\u007f é 😀", "b" : null}\n]\n');
    expect((JSON.parse(json) as { a: string }[])[0].a).toBe(value);
  });

  it('writes timestamps in UTC with six fractional digits, as to_char does', async () => {
    const cases: [bigint, string][] = [
      [0n, '2000-01-01T00:00:00.000000Z'],
      [-1n, '1999-12-31T23:59:59.999999Z'],
      [micros('1970-01-01T00:00:00.000Z', 1n), '1970-01-01T00:00:00.000001Z'],
      [micros('1900-02-28T12:34:56.500Z'), '1900-02-28T12:34:56.500000Z'],
      [micros('9999-12-31T23:59:59.999Z', 999n), '9999-12-31T23:59:59.999999Z'],
      // Past four digits the year grows; a year BC is written as its positive number.
      [micros('+012345-06-07T08:09:10.000Z'), '12345-06-07T08:09:10.000000Z'],
      [micros('-000043-03-15T12:00:00.000Z'), '0044-03-15T12:00:00.000000Z'],
      // ±infinity: to_char gives NULL.
      [2n ** 63n - 1n, ''],
      [-(2n ** 63n), ''],
    ];
    const csv = await frame(CSV, copyStream(cases.map(([value], i) => [String(i), 'x', value])));
    expect(csv.split('\r\n').slice(1, -1).map((line) => line.slice(line.lastIndexOf(',') + 1))).toEqual(cases.map(([, text]) => text));
  });

  it('agrees with Date for any microsecond between 1800 and 2200', async () => {
    const values = Array.from({ length: 2000 }, (_, i) => {
      const ms = Date.UTC(1800, 0, 1) + Math.floor(((i * 7919) % 2000) * (Date.UTC(2200, 0, 1) - Date.UTC(1800, 0, 1)) / 2000) + i;
      return { ms, extra: BigInt((i * 37) % 1000) };
    });
    const json = await frame(JSON_LINES, copyStream(values.map(({ ms, extra }) => ['x', BigInt(ms - POSTGRES_EPOCH_MS) * 1000n + extra])), 100);
    const written = (JSON.parse(json) as { b: string }[]).map((r) => r.b);
    expect(written).toEqual(values.map(({ ms, extra }) => new Date(ms).toISOString().replace('Z', `${String(extra).padStart(3, '0')}Z`)));
  });

  it('fails on a stream that ends before its trailer, or on rows of another width', async () => {
    const whole = copyStream([['1', 'x', null]]);
    await expect(frame(CSV, whole.subarray(0, whole.length - 2))).rejects.toThrow('ended before its trailer');
    await expect(frame(CSV, copyStream([['1', 'x']]))).rejects.toThrow('expected 3 columns per COPY row, got 2');
  });
});
