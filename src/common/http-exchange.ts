import type { IncomingHttpHeaders } from 'node:http';
import { requestIdFor } from './request-id';

// What the module's guards, filter, audit and handlers read of a request: the part that Express's
// Request and Fastify's FastifyRequest share, so the module runs under either adapter.
export interface HttpRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  params?: unknown;
  body?: unknown;
  // Honours the adapter's trust-proxy setting only (Fastify's trustProxy, Express's 'trust proxy');
  // Express leaves it undefined once the socket is gone.
  ip?: string;
  // Fastify sets it from genReqId; under Express the module's request middleware (or requestIdOf)
  // does. pino-http types it wider (string | number | object).
  id?: unknown;
  // The route pattern: Fastify's routeOptions.url, Express's route.path.
  routeOptions?: { url?: string };
  route?: { path?: string };
}

// What handlers that set a status or a header (and still return their value) use of a reply:
// Express's Response and Fastify's FastifyReply both have these two.
export interface HttpReply {
  status(code: number): unknown;
  header(name: string, value: string): unknown;
}

// The request's id, given one (requestIdFor) if nothing upstream did.
export function requestIdOf(request: Pick<HttpRequest, 'headers' | 'id'>): string {
  // Both adapters' ids are strings here (requestIdFor gives them); pino-http's type is wider.
  return typeof request.id === 'string' || typeof request.id === 'number' ? String(request.id) : requestIdFor(request);
}

export function routePatternOf(request: HttpRequest): string | null {
  return request.routeOptions?.url ?? request.route?.path ?? null;
}
