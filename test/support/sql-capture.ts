import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PooledClient } from '../../src/database/pooled-client';
import { isUuid } from '../../src/common/paging';
import type { RepositoryContext } from './repository-context';

export interface SentStatement {
  text: string;
  values: unknown[];
  // Set for a named prepared statement (pg parses it once per connection).
  name?: string;
}

type QueryMethod = (this: PooledClient, ...args: unknown[]) => unknown;

// Everything the module's pool sends while `work` runs, in the order it was sent, captured at
// the driver: every connection is a PooledClient, so TypeORM's query runners, Db's prepared
// statements on the bare pool, COPY streams and transaction control all pass through its query().
// `onStatement` runs after each statement is recorded (to act at a precise point of the work).
export async function captureSentStatements<T>(
  work: () => Promise<T>,
  onStatement?: (statement: SentStatement) => void,
): Promise<{ result: T; statements: SentStatement[] }> {
  const statements: SentStatement[] = [];
  const original = PooledClient.prototype.query as unknown as QueryMethod;
  const spy = jest.spyOn(PooledClient.prototype, 'query').mockImplementation(function (this: PooledClient, ...args: unknown[]) {
    const statement = sentStatement(args[0], args[1]);
    if (statement) {
      statements.push(statement);
      onStatement?.(statement);
    }
    return original.apply(this, args);
  });
  try {
    return { result: await work(), statements };
  } finally {
    spy.mockRestore();
  }
}

// pg's query() takes text, a config object ({ text, values, name }) or a Submittable (a COPY
// stream carries its text too), then optional values.
function sentStatement(config: unknown, values: unknown): SentStatement | undefined {
  if (typeof config === 'string') return { text: config, values: Array.isArray(values) ? values : [] };
  if (typeof config !== 'object' || config === null) return undefined;
  const { text, values: own, name } = config as { text?: unknown; values?: unknown; name?: unknown };
  if (typeof text !== 'string') return undefined;
  const params = Array.isArray(values) ? values : Array.isArray(own) ? own : [];
  return typeof name === 'string' ? { text, values: params, name } : { text, values: params };
}

export function modulePool(ctx: RepositoryContext): Pool {
  return (ctx.dataSource.driver as PostgresDriver).master as Pool;
}

// Waits until every connection of the pool is back and idle (a COPY's trailing RESET, a session's
// reset), then makes sure `connections` of them exist: concurrent statements (a page's rows and
// count) then get idle connections in call order, not whichever new connection is ready first.
export async function quietPool(pool: Pool, connections: number): Promise<void> {
  for (let attempt = 0; pool.idleCount !== pool.totalCount || pool.waitingCount > 0; attempt++) {
    if (attempt === 200) throw new Error('the pool did not become idle');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (pool.totalCount < connections) await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
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
