import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger, type MiddlewareConsumer, type RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { HttpAdapterHost } from '@nestjs/core';
import { bodyBounds, bodySizeOfHandler, type BodySize } from '../common/body-limits';
import { requestIdOf } from '../common/http-exchange';
import { jsonBoundsError, JsonBoundsScanner, type JsonBounds } from '../common/json-bounds';
import { RESERVED_KEYS_REASON, reservedKeyPaths } from '../common/reserved-keys';
import { ValidationFailedError } from '../errors/domain-error';
import { sendError, toErrorResponse } from '../errors/errors.filter';

type BodyRequest = IncomingMessage & { id?: unknown; body?: unknown; [BODY_READ]?: true };
type Next = (error?: unknown) => void;
type Middleware = (request: BodyRequest, response: ServerResponse, next: Next) => void;
type RouteBounds = JsonBounds & { bytes: number };
// Nest's RouteInfo, which @nestjs/common exports from no public entry.
type RouteInfo = { path: string; method: RequestMethod };

const BODY_READ = Symbol('body read by the module');
const logger = new Logger('HttpBody');

// An error the adapter's own parsers would raise; the errors filter maps its statusCode.
function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

// Under Express, what Fastify does for this app in app.factory.ts, scoped to the given
// controllers' routes: a request id and `no-store` on every answer, and bodies read by the
// module itself, JSON or text/csv only (415 otherwise), within each route's @BodyLimit (413),
// scanned for its JSON bounds as they arrive and refused with a __proto__ key (400), all with
// the app's error body. Under Fastify it adds nothing. See README "Express or Fastify".
// `prefix` is the module path the controllers are mounted under (RouterModule), which their own
// metadata does not hold.
export function configureExpressRoutes(consumer: MiddlewareConsumer, adapterHost: HttpAdapterHost, controllers: Type[], bulkLimitBytes: number, prefix = ''): void {
  const http = adapterHost.httpAdapter;
  if (http?.getType() !== 'express') return;
  const refuse = (request: BodyRequest, response: ServerResponse, error: unknown): void => {
    // A body left unread would otherwise be drained on a kept-alive connection.
    if (!request.readableEnded) response.setHeader('connection', 'close');
    sendError(http, response, toErrorResponse(error, requestIdOf(request), logger));
  };
  const bounds = bodyBounds(bulkLimitBytes);
  const routes = routesBySize(controllers, prefix);
  consumer.apply(requestContext).forRoutes(...controllers);
  // Express runs the middleware of the first route that matches, in this order: the larger
  // limits are registered first, so PATCH /users/bulk (bulk) wins over PATCH /users/:id (profile).
  for (const size of ['bulk', 'profile'] as const) {
    if (routes[size].length) consumer.apply(bodyReader(bounds[size], refuse)).forRoutes(...routes[size]);
  }
  consumer.apply(bodyReader(bounds.small, refuse)).forRoutes(...controllers);
}

const requestContext: Middleware = (request, response, next) => {
  response.setHeader('x-request-id', requestIdOf(request));
  // Answers carry tokens and personal data (errors too): no browser or shared cache may keep them.
  response.setHeader('cache-control', 'no-store');
  next();
};

function bodyReader(bounds: RouteBounds, refuse: (request: BodyRequest, response: ServerResponse, error: unknown) => void): Middleware {
  return (request, response, next) => {
    if (request[BODY_READ]) return next();
    request[BODY_READ] = true;
    const kind = bodyKind(request.headers['content-type']);
    // A host's own parser (Nest's default json and urlencoded ones) ran first and read it whole.
    if (request.readableEnded || request.body !== undefined) {
      const error = takenBodyError(request, kind, bounds);
      return error ? refuse(request, response, error) : next();
    }
    if (!hasBody(request)) return next();
    if (!kind) return refuse(request, response, httpError(415, `Unsupported Media Type: ${request.headers['content-type'] ?? 'none'}`));
    // Refused from its Content-Length before any byte is read, as Fastify does.
    if (Number(request.headers['content-length']) > bounds.bytes) return refuse(request, response, tooLarge());
    readBody(request, bounds, kind === 'json')
      .then((text) => (kind === 'json' ? parseJson(text) : text))
      .then(
        (body) => {
          request.body = body;
          next();
        },
        (error: unknown) => refuse(request, response, error),
      );
  };
}

function bodyKind(contentType: string | undefined): 'json' | 'csv' | undefined {
  if (/^\s*application\/json\s*(;|$)/i.test(contentType ?? '')) return 'json';
  if (/^\s*text\/csv\s*(;|$)/i.test(contentType ?? '')) return 'csv';
  return undefined;
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function tooLarge(): Error {
  return httpError(413, 'Request body is too large');
}

// The bytes of the body, up to the route's limit; a JSON body passes the bounds scanner on its way.
function readBody(request: BodyRequest, bounds: RouteBounds, json: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const source = json ? request.pipe(new JsonBoundsScanner(bounds)) : request;
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error): void => {
      request.unpipe();
      source.removeAllListeners('data');
      reject(error);
    };
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bounds.bytes) fail(tooLarge());
      else chunks.push(chunk);
    });
    source.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    source.once('error', fail);
    if (json) request.once('error', fail);
  });
}

// Fastify's parser refuses a __proto__ key (which JSON.parse makes an ordinary own key); the
// answer names every reserved key and where it is, as app.factory.ts does. `constructor` and
// `prototype` keys reach the validation pipe, which refuses them by path.
function parseJson(text: string): unknown {
  if (text.trim() === '') throw httpError(400, "Body cannot be empty when content-type is set to 'application/json'");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw httpError(400, "Body is not valid JSON but content-type is set to 'application/json'");
  }
  const error = prototypeKeyError(value);
  if (error) throw error;
  return value;
}

function prototypeKeyError(value: unknown): ValidationFailedError | undefined {
  const paths = reservedKeyPaths(value);
  if (!paths.some((path) => path === '__proto__' || path.endsWith('.__proto__'))) return undefined;
  return new ValidationFailedError(paths.map((field) => ({ field, reason: RESERVED_KEYS_REASON })));
}

// The same rules over a body the host's parser already read: its type, the route's byte limit
// (from Content-Length, or its length once read), the JSON bounds and the __proto__ refusal.
function takenBodyError(request: BodyRequest, kind: 'json' | 'csv' | undefined, bounds: RouteBounds): unknown {
  if (request.body === undefined) return undefined;
  if (!kind) return httpError(415, `Unsupported Media Type: ${request.headers['content-type'] ?? 'none'}`);
  let text: string;
  try {
    text = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  } catch {
    // Nested deeper than the stack allows (the host's parser took it): over any route's bounds.
    return new ValidationFailedError([{ field: 'body', reason: 'nests too deep' }]);
  }
  if (Math.max(Number(request.headers['content-length']) || 0, Buffer.byteLength(text)) > bounds.bytes) return tooLarge();
  if (kind === 'csv') return undefined;
  // The bounds first: they are checked on the text without recursion, the prototype keys by a walk.
  return jsonBoundsError(text, bounds) ?? prototypeKeyError(request.body);
}

// Each route of the controllers under the size its @BodyLimit declares (small by default).
function routesBySize(controllers: Type[], prefix: string): Record<BodySize, RouteInfo[]> {
  const routes: Record<BodySize, RouteInfo[]> = { small: [], profile: [], bulk: [] };
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const prototype = controller.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[key];
      if (key === 'constructor' || typeof handler !== 'function') continue;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (path === undefined) continue;
      const size = bodySizeOfHandler(handler);
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
      routes[size].push({ path: [prefix, base, path].filter((part) => part && part !== '/').join('/'), method });
    }
  }
  return routes;
}
