import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Accepts a caller's X-Request-Id when it is a plain token, so ids can be followed across
// services; anything else gets a fresh UUID. Fastify and pino share it through `raw.id`; under
// Express it is the request's own `id`.
export function requestIdFor(req: { headers: IncomingHttpHeaders; id?: unknown }): string {
  const header = req.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
  req.id = id;
  return id;
}
