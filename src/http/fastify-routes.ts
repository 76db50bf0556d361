import { Logger } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preParsingHookHandler, RouteOptions } from 'fastify';
import { bodyBounds, routeBodyOf } from '../common/body-limits';
import { JsonBoundsScanner, type JsonBounds } from '../common/json-bounds';
import { sendError, toErrorResponse } from '../errors/errors.filter';

const logger = new Logger('HttpBody');
// One set of hooks per Fastify instance and owner, whatever the number of module instances.
const configured = new WeakMap<FastifyInstance, Set<string>>();

// Under Fastify, what the routes marked by BodyLimitedRoutes(owner) need of the host's instance,
// installed on those routes only so that the host's own routes keep its settings: each route's
// @BodyLimit as its byte limit, JSON bodies scanned for their bounds as they arrive, bodies other
// than JSON or text/csv refused (415: a cross-site form cannot post text/plain to an import), and
// what Fastify refuses before a handler runs (413, 415, a malformed body) answered with the app's
// error body. A text/csv parser is added to the instance if it has none. Must run before Nest
// registers the routes: UsersModule calls it from configure(). Under Express it adds nothing.
export function configureFastifyRoutes(adapterHost: HttpAdapterHost, owner: string, bulkLimitBytes: number): void {
  const http = adapterHost.httpAdapter;
  if (http?.getType() !== 'fastify') return;
  const fastify = http.getInstance<FastifyInstance>();
  const owners = configured.get(fastify) ?? new Set<string>();
  if (owners.has(owner)) return;
  configured.set(fastify, owners.add(owner));
  const bounds = bodyBounds(bulkLimitBytes);
  if (!fastify.hasContentTypeParser('text/csv')) {
    fastify.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const body = routeBodyOf(route.config);
    if (body?.owner !== owner) return;
    route.bodyLimit = bounds[body.size].bytes;
    route.preParsing = [...[route.preParsing ?? []].flat(), checkBody(bounds[body.size])];
    route.errorHandler ??= (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id).header('cache-control', 'no-store');
      sendError(http, reply, toErrorResponse(error, String(request.id), logger));
    };
  });
}

const JSON_TYPE = /^\s*application\/json\s*(;|$)/i;
const CSV_TYPE = /^\s*text\/csv\s*(;|$)/i;

// A body must be JSON or text/csv; a JSON one is scanned as it arrives and refused (400) once it
// nests too deep or holds too many values for its route, before it is parsed.
function checkBody(bounds: JsonBounds): preParsingHookHandler {
  return (request, _reply, payload, done) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !JSON_TYPE.test(type) && !CSV_TYPE.test(type) && hasBody(request)) {
      done(Object.assign(new Error(`Unsupported Media Type: ${type}`), { statusCode: 415 }));
      return;
    }
    if (!JSON_TYPE.test(type ?? '')) {
      done(null, payload);
      return;
    }
    const scanner = new JsonBoundsScanner(bounds);
    // An aborted upload ends the scan too, so the parser never waits for it. The parser listens
    // for the scanner's error; when Fastify refused the body first (413 from its Content-Length)
    // nobody does, and the error must not be an unhandled one.
    payload.on('error', (error) => scanner.destroy(error));
    scanner.on('error', () => undefined);
    done(null, payload.pipe(scanner));
  };
}

function hasBody(request: FastifyRequest): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
}
