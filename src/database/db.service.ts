import type { TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsService } from 'nestjs-cls';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { QueryRunner } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { retryIdempotentOnLostConnection } from '../errors/database-errors';
import { PooledClient, READ_TIMEOUT_MARGIN_MS, READ_TIMEOUT_MESSAGE } from './pooled-client';

type Hook = () => Promise<void>;

// DISCARD ALL without its DEALLOCATE ALL: the pool's clients keep track of the statements they
// prepared on their connection, and would fail on a connection that silently lost them.
const SESSION_RESET = 'CLOSE ALL; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES';

// One pooled connection held until released (also by `await using`). Its state never leaks into
// the pool: releasing discards temp tables, settings and locks, and a connection that cannot be
// reset (a transaction left open, a broken socket) is closed instead of reused.
export class DbSession implements AsyncDisposable {
  private releasing?: Promise<void>;

  constructor(readonly runner: QueryRunner) {}

  get released(): boolean {
    return this.runner.isReleased;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const result = await this.runner.query(sql, params, true);
    return result.records as T[];
  }

  release(): Promise<void> {
    this.releasing ??= this.resetAndRelease();
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  private async resetAndRelease(): Promise<void> {
    try {
      // Inside a transaction block now() is the transaction's start, not this statement's: a
      // transaction left open is never handed back to the pool.
      const [{ idle }] = await this.query<{ idle: boolean }>('SELECT now() = statement_timestamp() AS idle');
      if (!idle) throw new Error('the session left a transaction open');
      await this.runner.query(SESSION_RESET);
    } catch {
      await discardConnection(this.runner);
    } finally {
      await this.runner.release();
    }
  }
}

// Closes the runner's connection so that the pool never hands it out again (pg-pool drops a
// client that is ending): for a connection whose state cannot be reset. The caller still
// releases the runner.
export async function discardConnection(runner: QueryRunner): Promise<void> {
  const client = (await runner.connect()) as PoolClient;
  await client.end().catch(() => undefined);
}

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

// The repository's door to PostgreSQL. Every statement runs on the ambient transaction when one
// is open (nestjs-cls keeps it in AsyncLocalStorage), else on the ambient session's connection,
// else on a pooled connection.
// Built by DatabaseModule, on the transaction host of its own connection name.
export class Db {
  // Keys of this Db's session and after-commit hooks in the async context: their own per Db, so
  // that a second module instance (another database) never runs on this one's connection.
  private readonly sessionKey = Symbol('db:session');
  private readonly afterCommitKey = Symbol('db:afterCommit');

  constructor(
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    private readonly cls: ClsService,
  ) {}

  inTransaction(): boolean {
    return this.txHost.isTransactionActive();
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.withRunner(async (runner) => {
      const result = await runner.query(sql, params, true);
      return result.records as T[];
    });
  }

  // For a read-only statement. Outside a transaction or session, a pooled connection that the
  // server ended while idle (a restart, pg_terminate_backend) costs a retry, not a failed request.
  // A `statement` name makes it a prepared statement, parsed and planned once per connection:
  // for the hot point lookups by primary key, whose plan never depends on the values.
  async read<T>(sql: string, params: unknown[] = [], statement?: string): Promise<T[]> {
    if (this.inTransaction() || this.cls.get<DbSession | undefined>(this.sessionKey)) return this.query<T>(sql, params);
    const pool = this.pool();
    const run = statement
      ? async () => (await pool.query<T & QueryResultRow>({ name: statement, text: sql, values: params })).rows
      : () => this.query<T>(sql, params);
    return retryIdempotentOnLostConnection(run, (pool.options.max ?? 10) + 1);
  }

  // Runs `work` in one transaction, or inside the caller's when one is open. Hooks registered
  // with afterCommit run once the outermost transaction commits, and never after a rollback.
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction()) return work();
    return this.cls.run({ ifNested: 'inherit' }, async () => {
      const hooks: Hook[] = [];
      this.cls.set(this.afterCommitKey, hooks);
      const result = await this.txHost.withTransaction(work);
      this.cls.set(this.afterCommitKey, undefined);
      for (const hook of hooks) await hook();
      return result;
    });
  }

  // A session that holds one connection; the caller releases it (or lets `await using` do it).
  async openSession(): Promise<DbSession> {
    const runner = this.txHost.tx.connection.createQueryRunner();
    try {
      await runner.connect();
    } catch (error) {
      await runner.release();
      throw error;
    }
    return new DbSession(runner);
  }

  // Runs `work` with a session bound to its async context: every statement made through Db inside
  // it (repository calls included) uses the session's connection, unless a transaction is open.
  async withSession<T>(work: (session: DbSession) => Promise<T>): Promise<T> {
    const session = await this.openSession();
    try {
      return await this.cls.run({ ifNested: 'inherit' }, () => {
        this.cls.set(this.sessionKey, session);
        return work(session);
      });
    } finally {
      await session.release();
    }
  }

  async afterCommit(hook: Hook): Promise<void> {
    const hooks = this.inTransaction() ? this.cls.get<Hook[] | undefined>(this.afterCommitKey) : undefined;
    if (hooks) hooks.push(hook);
    else await hook();
  }

  // Streams a `COPY ... TO STDOUT` statement on a pooled connection of its own (never the ambient
  // transaction's), held for the stream's whole life and handed back exactly once: clean when the
  // COPY has ended, destroyed after an error or when the consumer stops it early (a COPY cut short
  // leaves the connection mid-protocol; destroying it also ends the server's backend). `prologue`
  // runs, and commits, on that connection first. The COPY runs under `statementTimeoutMs` rather
  // than the pool's statement timeout (a large export to a slow client takes longer than any query
  // should), reset before the connection goes back.
  async copyOut(sql: string, options: { statementTimeoutMs: number; prologue?: SqlStatement }): Promise<Readable> {
    const driver = this.txHost.tx.connection.driver as PostgresDriver;
    const [client, release] = (await driver.obtainMasterConnection()) as [PoolClient, (error?: Error) => void];
    let released = false;
    const releaseOnce = (error?: Error | null) => {
      if (released) return;
      released = true;
      release(error ?? undefined);
    };
    try {
      if (options.prologue) await client.query(options.prologue.sql, options.prologue.params);
      await client.query(`SELECT set_config('statement_timeout', $1, false)`, [String(options.statementTimeoutMs)]);
      const source = client.query(copyTo(sql));
      // The client-side bound of the COPY (statements get theirs from the pool): a server that
      // stops answering mid-stream fails the stream, and the connection's socket is destroyed at
      // once (a graceful end would wait on a frozen server), so it is never reused.
      const bound = setTimeout(() => {
        const timeout = new Error(READ_TIMEOUT_MESSAGE);
        if (client instanceof PooledClient) client.closeAfterTimeout(timeout);
        source.destroy(timeout);
      }, options.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS);
      let ended = false;
      source.once('end', () => {
        ended = true;
        client.query('RESET statement_timeout').then(
          () => releaseOnce(),
          (error: Error) => releaseOnce(error),
        );
      });
      source.once('error', (error) => releaseOnce(error));
      source.once('close', () => {
        clearTimeout(bound);
        if (!ended) releaseOnce(new Error('the COPY stream closed before its end'));
      });
      return source;
    } catch (error) {
      releaseOnce(error as Error);
      throw error;
    }
  }

  // Runs a `COPY ... FROM STDIN` statement where Db runs any other (the ambient transaction's
  // connection, else the session's, else a pooled one) and streams `lines` into it, text that is
  // already in COPY's format. The server's statement timeout applies as to any statement; the
  // client-side bound is the pool's read timeout, past which the connection is closed.
  async copyIn(sql: string, lines: Iterable<string>): Promise<void> {
    await this.withRunner(async (runner) => {
      const client = (await runner.connect()) as PoolClient;
      const sink = client.query(copyFrom(sql));
      const bound =
        client instanceof PooledClient && client.readTimeoutMs !== undefined
          ? setTimeout(() => {
              const timeout = new Error(READ_TIMEOUT_MESSAGE);
              client.closeAfterTimeout(timeout);
              sink.destroy(timeout);
            }, client.readTimeoutMs)
          : undefined;
      try {
        await pipeline(Readable.from(lines), sink);
      } finally {
        clearTimeout(bound);
      }
    });
  }

  private pool(): Pool {
    return (this.txHost.tx.connection.driver as PostgresDriver).master as Pool;
  }

  private async withRunner<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const manager = this.txHost.tx;
    if (manager.queryRunner) return work(manager.queryRunner);
    const session = this.cls.get<DbSession | undefined>(this.sessionKey);
    if (session && !session.released) return work(session.runner);
    const runner = manager.connection.createQueryRunner();
    try {
      return await work(runner);
    } finally {
      await runner.release();
    }
  }
}
