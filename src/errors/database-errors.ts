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
