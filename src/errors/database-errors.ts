// Connection failures, exhausted resources (53xxx), terminated backends (57Pxx) and statement
// timeouts (57014) mean "the database cannot serve now" (503), as opposed to query errors that
// the repository translates into domain errors.
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '53', '57P', '57014'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'terminating connection',
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

// The server ended the session (administrator command or crash shutdown) before running the
// statement: a single statement outside a transaction did not take effect, so a retry on a
// fresh pooled connection is safe. pg-pool has already discarded the broken one.
const TERMINATED_SESSION_SQLSTATES = new Set(['57P01', '57P02']);

export function isTerminatedSession(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && TERMINATED_SESSION_SQLSTATES.has(code);
}

// For one statement outside a transaction: pooled connections killed while idle (a PostgreSQL
// restart, pg_terminate_backend) cost retries, not a failed request. Each failure discards one
// broken connection, and the others' termination notices arrive within the first round trip,
// so a few attempts suffice.
const TERMINATED_SESSION_ATTEMPTS = 5;

export async function retryOnTerminatedSession<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (attempt >= TERMINATED_SESSION_ATTEMPTS || !isTerminatedSession(error)) throw error;
    }
  }
}
