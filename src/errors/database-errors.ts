// Connection failures, exhausted resources (53xxx) and terminated backends (57Pxx) mean "the
// database cannot serve now" (503), as opposed to query errors that the repository translates
// into domain errors, and to statement timeouts (isQueryTimeout).
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '53', '57P'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'terminating connection',
  // A statement got no answer within the client-side bound (a frozen server, a dead network).
  'Query read timeout',
];

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const e = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof e.code === 'string') {
      if (UNAVAILABLE_NODE_CODES.has(e.code)) return true;
      const sqlState = e.code;
      if (/^[0-9A-Z]{5}$/.test(sqlState) && UNAVAILABLE_SQLSTATE_PREFIXES.some((p) => sqlState.startsWith(p))) return true;
    }
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((m) => (e.message as string).includes(m))) return true;
    current = e.driverError ?? e.cause;
  }
  return false;
}

// The server cancelled a statement that ran past DATABASE_STATEMENT_TIMEOUT_MS (57014). Unlike
// an unavailable database, retrying the same statement would only time out again.
export function isQueryTimeout(error: unknown): boolean {
  return sqlStateOf(error) === SQLSTATE.QUERY_CANCELED;
}

// The pooled connection was gone when the statement went out: the server ended the session
// (administrator command, crash shutdown) or the socket was already closed. pg-pool discards such
// a connection, so the next attempt gets a fresh one. Refused connections and timeouts are not
// here: a retry would only wait again.
const LOST_CONNECTION_CODES = new Set(['57P01', '57P02', 'ECONNRESET', 'EPIPE']);
// Not 'Connection terminated due to connection timeout': that one is a connect timeout.
const LOST_CONNECTION_MESSAGES = ['Connection terminated unexpectedly', 'Client has encountered a connection error'];

export function isLostConnection(error: unknown): boolean {
  const code = pgErrorOf(error)?.code;
  if (code !== undefined && LOST_CONNECTION_CODES.has(code)) return true;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && LOST_CONNECTION_MESSAGES.some((m) => message.startsWith(m));
}

// For one idempotent statement (a read, a ping) outside a transaction: pooled connections killed
// while idle (a PostgreSQL restart, pg_terminate_backend) cost retries, not a failed request.
// Each failure discards one broken connection, and every pooled one may be broken, so callers
// allow the pool size plus one attempts; yielding to the event loop first lets connections whose
// termination notice has arrived leave the pool. Never for writes: a connection lost in flight
// leaves their outcome unknown.
export async function retryIdempotentOnLostConnection<T>(statement: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (attempt >= attempts || !isLostConnection(error)) throw error;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

// SQLSTATE class 22: PostgreSQL refused a value (a date that does not exist, a NUL in text).
export function isDataException(error: unknown): boolean {
  const code = sqlStateOf(error);
  return code !== undefined && /^22[0-9A-Z]{3}$/.test(code);
}

function sqlStateOf(error: unknown): string | undefined {
  return pgErrorOf(error)?.code;
}

// The SQLSTATEs the code acts on by name.
export const SQLSTATE = { UNIQUE_VIOLATION: '23505', DUPLICATE_TABLE: '42P07', QUERY_CANCELED: '57014' } as const;

export interface PgErrorFields {
  code?: string;
  constraint?: string;
  detail?: string;
}

// The one place that unwraps a PostgreSQL error: pg's own, or TypeORM's QueryFailedError around
// it (`driverError`). Undefined for anything that is not an object.
export function pgErrorOf(error: unknown): PgErrorFields | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const outer = error as { driverError?: unknown };
  const inner = (typeof outer.driverError === 'object' && outer.driverError !== null ? outer.driverError : error) as Record<string, unknown>;
  const text = (key: string) => (typeof inner[key] === 'string' ? inner[key] : undefined);
  return { code: text('code'), constraint: text('constraint'), detail: text('detail') };
}
