import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { captureSentStatements, normalizeSql, type SentStatement } from '../test/support/statement-capture';

// The reference side of the query rows: the statements one repository call sends, captured at
// the driver as the SQL snapshot spec captures them, checked against that reviewed snapshot, and
// replayed with the same values on a bare pg pool. The bench never holds a copy of the SQL.

const SNAPSHOT = join(__dirname, '..', '..', 'test', 'sql', 'users.sql');

// The statements of test/sql/users.sql, normalized, each with its prepared-statement name ('' for
// none). A statement is a block of non-comment lines; a blank line ends it.
function reviewedStatements(): Map<string, Set<string>> {
  const reviewed = new Map<string, Set<string>>();
  for (const block of readFileSync(SNAPSHOT, 'utf8').split(/\n\s*\n/)) {
    const lines = block.split('\n');
    const text = lines.filter((line) => line.trim() !== '' && !line.startsWith('--')).join('\n');
    if (text === '') continue;
    const name = lines.map((line) => /^-- prepared statement (\S+)$/.exec(line)?.[1]).find(Boolean) ?? '';
    reviewed.set(text, (reviewed.get(text) ?? new Set()).add(name));
  }
  return reviewed;
}

let snapshot: Map<string, Set<string>> | undefined;

// Fails unless every statement occurs in the snapshot, under the same prepared-statement name:
// the bench measures reviewed SQL only.
function checkReviewed(what: string, statements: SentStatement[]): void {
  snapshot ??= reviewedStatements();
  if (statements.length === 0) throw new Error(`${what} sent no SQL`);
  for (const statement of statements) {
    const text = normalizeSql(statement.text);
    if (!snapshot.get(text)?.has(statement.name ?? '')) {
      const named = statement.name ? ` (prepared statement ${statement.name})` : '';
      throw new Error(`the snapshot is stale: run npx jest test/sql. ${what} sent a statement${named} that test/sql/users.sql does not hold: ${text.slice(0, 160)}`);
    }
  }
}

// The statements `call` sends, checked against the snapshot. A first call, not captured, warms
// the pool: parallel statements then find idle connections, as in steady use, instead of one
// waiting for a new connection while the other completes (which would read as sequential).
// `warm: false` captures the first call (a cache miss that a first call would turn into a hit).
export async function captureReviewed(what: string, call: () => Promise<unknown>, { warm = true } = {}): Promise<SentStatement[]> {
  if (warm) await call();
  const { statements } = await captureSentStatements(call);
  checkReviewed(what, statements);
  return statements;
}

// Sends the captured statements again, as they were sent: each one once the statements that had
// completed before it in the capture have completed here (so parallel ones go in parallel, and
// sequential ones in order), and the statements of one captured connection on one connection of
// `pool` (a transaction stays on its connection), prepared under the same name when they were.
export async function replay(pool: Pool, statements: SentStatement[]): Promise<void> {
  const clients = new Map<number, Promise<PoolClient>>();
  const lastOf = new Map(statements.map((s, i) => [s.connection, i]));
  const runs: Promise<unknown>[] = [];
  const send = async (statement: SentStatement, index: number): Promise<unknown> => {
    // Earlier statements of the same connection go first, as pg's queue sent them.
    const previous = statements.findLastIndex((s, i) => i < index && s.connection === statement.connection);
    await Promise.all([...statement.after, previous].filter((i) => i >= 0).map((i) => runs[i]));
    if (!clients.has(statement.connection)) clients.set(statement.connection, pool.connect());
    const client = await clients.get(statement.connection)!;
    const { text, values, name } = statement;
    const result = await client.query(name ? { name, text, values } : { text, values });
    if (lastOf.get(statement.connection) === index) {
      clients.delete(statement.connection);
      client.release();
    }
    return result;
  };
  statements.forEach((statement, index) => runs.push(send(statement, index)));
  const outcomes = await Promise.allSettled(runs);
  // Connections still held are those a failure stopped: one may sit in an aborted transaction, so
  // they are closed rather than handed back.
  await Promise.allSettled([...clients.values()].map(async (client) => (await client).release(true)));
  const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (rejected) throw rejected.reason;
}
