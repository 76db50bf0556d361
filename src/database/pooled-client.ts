import { Logger } from '@nestjs/common';
import { Client, type ClientConfig, type QueryConfig } from 'pg';

export interface PooledClientConfig extends ClientConfig {
  // Client-side bound of one statement (COPY streams bound themselves, see user-transfer.ts).
  readTimeoutMs?: number;
}

// pg's message when a statement passed its query_timeout without an answer.
export const READ_TIMEOUT_MESSAGE = 'Query read timeout';

// The client-side bound of a statement sits this far above the server's statement_timeout: a
// server that answers reports its own timeout first (57014, QUERY_TIMEOUT); this one only fires
// when the server does not answer at all (frozen, or the network dropped the packets).
export const READ_TIMEOUT_MARGIN_MS = 2000;

type QueryCallback = (error: Error | null, result?: unknown) => void;
type QueryMethod = (this: Client, ...args: unknown[]) => unknown;

const logger = new Logger('PostgreSQL');
const clientQuery = (client: Client, ...args: unknown[]): unknown => (Client.prototype.query as QueryMethod).apply(client, args);

// Every connection of the pool (pg-pool's `Client` option), so that two things hold for as long
// as a connection exists, whoever holds it (the pool, a query runner, or nobody in between):
// - an 'error' event (the server ended the session: 57P01 on a restart or pg_terminate_backend)
//   always has a listener; pg emits it when no statement is running, and an 'error' event with
//   no listener kills the process. The pool and TypeORM still drop the connection as before.
// - a statement that got no answer within readTimeoutMs fails, and its connection is closed at
//   once: the server may still be running it (or be frozen), and the connection must never be
//   handed out again with that statement's answer still to come.
export class PooledClient extends Client {
  private errorLogged = false;
  readonly readTimeoutMs: number | undefined;

  constructor(config: PooledClientConfig) {
    super(config);
    this.readTimeoutMs = config.readTimeoutMs;
    this.on('error', (error: Error) => this.connectionError(error));
  }

  // Once per connection, and never the statement's parameters.
  private connectionError(error: Error): void {
    if (this.errorLogged) return;
    this.errorLogged = true;
    const { code } = error as Error & { code?: unknown };
    logger.warn({ code, message: error.message }, 'PostgreSQL connection lost');
  }

  closeAfterTimeout(error: unknown): void {
    if (!(error instanceof Error) || error.message !== READ_TIMEOUT_MESSAGE) return;
    // end() marks the client as ending at once (pg-pool then discards it on release); the socket
    // goes too, rather than waiting for a goodbye from a server that does not answer.
    void this.end().catch(() => undefined);
    this.connection.stream.destroy();
  }
}

// pg's query() takes text or a config object, values, and a callback or none (a promise); a
// Submittable (COPY, cursors) is passed through untouched. The bound rides on the statement's own
// config (query_timeout), so that a Submittable, which never reports its end to pg's timer, is
// not cut off by a connection-wide one.
PooledClient.prototype.query = function (this: PooledClient, config: unknown, values?: unknown, callback?: unknown): unknown {
  if (this.readTimeoutMs === undefined || config === null || typeof config !== 'object' && typeof config !== 'string' || typeof (config as { submit?: unknown }).submit === 'function') {
    return clientQuery(this, config, values, callback);
  }
  const statement: QueryConfig & { query_timeout?: number } = typeof config === 'string' ? { text: config } : { ...(config as QueryConfig) };
  statement.query_timeout ??= this.readTimeoutMs;
  const done = (typeof values === 'function' ? values : callback) as QueryCallback | undefined;
  if (done) {
    return clientQuery(this, statement, typeof values === 'function' ? undefined : values, (error: Error | null, result?: unknown) => {
      this.closeAfterTimeout(error);
      done(error, result);
    });
  }
  const result = clientQuery(this, statement, values);
  // A config carrying its own callback gets no promise; pg then reports through that callback.
  if (result instanceof Promise) result.catch((error: unknown) => this.closeAfterTimeout(error));
  return result;
} as Client['query'];
