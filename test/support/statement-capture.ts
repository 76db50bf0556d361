import { PooledClient } from '../../src/database/pooled-client';
import { isUuid } from '../../src/common/paging';

// What the SQL snapshot spec and the bench share: the capture of the statements the module sends,
// and their normalized text. Nothing here depends on Jest (the bench imports it).

export interface SentStatement {
  text: string;
  values: unknown[];
  // Set for a named prepared statement (pg parses it once per connection).
  name?: string;
  // Which connection sent it: 0 for the first connection seen in the capture, 1 for the next, ...
  connection: number;
  // The statements (indexes in the capture) that had completed when this one was sent: the
  // others were still running, so this one was sent in parallel with them.
  after: number[];
}

type QueryMethod = (this: PooledClient, ...args: unknown[]) => unknown;

// Everything the module's pool sends while `work` runs, in the order it was sent, captured at
// the driver: every connection is a PooledClient, so TypeORM's query runners, Db's prepared
// statements on the bare pool, COPY streams and transaction control all pass through its query().
// `onStatement` runs after each statement is recorded (to act at a precise point of the work).
// Not reentrant: one capture at a time.
export async function captureSentStatements<T>(
  work: () => Promise<T>,
  onStatement?: (statement: SentStatement) => void,
): Promise<{ result: T; statements: SentStatement[] }> {
  const statements: SentStatement[] = [];
  const completed: number[] = [];
  const connections = new Map<PooledClient, number>();
  const original = PooledClient.prototype.query as unknown as QueryMethod;
  const capturing: QueryMethod = function (this: PooledClient, ...args: unknown[]) {
    const sent = sentStatement(args[0], args[1]);
    if (!sent) return original.apply(this, args);
    if (!connections.has(this)) connections.set(this, connections.size);
    const index = statements.push({ ...sent, connection: connections.get(this)!, after: [...completed] }) - 1;
    onStatement?.(statements[index]);
    return whenSettled(original, this, args, () => completed.push(index));
  };
  PooledClient.prototype.query = capturing as unknown as PooledClient['query'];
  try {
    return { result: await work(), statements };
  } finally {
    PooledClient.prototype.query = original as unknown as PooledClient['query'];
  }
}

// Calls pg's query() and runs `settled` once the statement has its answer (or its error),
// whichever way the caller waits for it: a callback (pg-pool's query), a promise, or the
// events of a Submittable (a COPY stream).
function whenSettled(query: QueryMethod, client: PooledClient, args: unknown[], settled: () => void): unknown {
  let once = false;
  const settle = () => {
    if (once) return;
    once = true;
    settled();
  };
  const at = args.findIndex((arg, i) => i > 0 && typeof arg === 'function');
  if (at > 0) {
    const callback = args[at] as (...result: unknown[]) => unknown;
    const wrapped = [...args];
    wrapped[at] = (...result: unknown[]) => {
      settle();
      return callback(...result);
    };
    return query.apply(client, wrapped);
  }
  const result = query.apply(client, args);
  if (result instanceof Promise) {
    result.then(settle, settle);
  } else if (result && typeof (result as { once?: unknown }).once === 'function') {
    const events = result as { once(event: string, listener: () => void): unknown };
    for (const event of ['end', 'finish', 'error', 'close']) events.once(event, settle);
  }
  return result;
}

// pg's query() takes text, a config object ({ text, values, name }) or a Submittable (a COPY
// stream carries its text too), then optional values.
function sentStatement(config: unknown, values: unknown): Pick<SentStatement, 'text' | 'values' | 'name'> | undefined {
  if (typeof config === 'string') return { text: config, values: Array.isArray(values) ? values : [] };
  if (typeof config !== 'object' || config === null) return undefined;
  const { text, values: own, name } = config as { text?: unknown; values?: unknown; name?: unknown };
  if (typeof text !== 'string') return undefined;
  const params = Array.isArray(values) ? values : Array.isArray(own) ? own : [];
  return typeof name === 'string' ? { text, values: params, name } : { text, values: params };
}

// A statement as it reads in a snapshot: each line trimmed, runs of blanks collapsed and blank
// lines dropped (outside quoted literals and identifiers, whose content is left exactly as sent),
// continuation lines indented by two spaces, and a final `;`.
export function normalizeSql(text: string): string {
  const lines: string[] = [];
  let line = '';
  let quote: string | undefined;
  let blank = false;
  for (const ch of text) {
    if (quote !== undefined) {
      line += ch;
      // '' inside a literal closes and reopens it, which leaves the content as it is.
      if (ch === quote) quote = undefined;
    } else if (ch === '\n') {
      lines.push(line);
      line = '';
      blank = false;
    } else if (/\s/.test(ch)) {
      blank = true;
    } else {
      if (blank && line !== '') line += ' ';
      blank = false;
      if (ch === "'" || ch === '"') quote = ch;
      line += ch;
    }
  }
  lines.push(line);
  const body = lines.filter((l) => l !== '').join('\n  ');
  return body.endsWith(';') ? body : `${body};`;
}

// The shape of one bound value, never the value: `uuid`, `text`, `json`, `int`, `bool`,
// `timestamptz`, `null`, and arrays as `uuid[3]` (element shapes joined by `|` when mixed).
export function paramShape(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return 'timestamptz';
  if (Buffer.isBuffer(value)) return 'bytea';
  if (Array.isArray(value)) {
    const elements = [...new Set(value.map(paramShape))].sort();
    const element = elements.length === 0 ? 'unknown' : elements.length === 1 ? elements[0] : `(${elements.join('|')})`;
    return `${element}[${value.length}]`;
  }
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'numeric';
    case 'string':
      return isUuid(value) ? 'uuid' : isJsonText(value) ? 'json' : 'text';
    default:
      return 'json';
  }
}

function isJsonText(value: string): boolean {
  if (!/^[[{]/.test(value)) return false;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}
