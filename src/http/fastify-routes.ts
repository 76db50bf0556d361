import { Logger } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preParsingHookHandler, RouteOptions } from 'fastify';
import { bodyBounds, bodySizeOf } from '../common/body-limits';
import { JsonBoundsScanner } from '../common/json-bounds';
import { sendError, toErrorResponse } from '../errors/errors.filter';

const logger = new Logger('HttpBody');

// Under Fastify, what the module's routes need of the host's instance, installed on those routes
// only (their paths start with one of `paths`) so that the host's own routes keep its settings:
// each route's @BodyLimit as its byte limit, JSON bodies scanned for their bounds as they arrive,
// text/csv accepted (for imports), and what Fastify refuses before a handler runs (413, 415, a
// malformed body) answered with the app's error body. Must run before Nest registers the routes:
// UsersModule calls it from configure(). Under Express it adds nothing (see express-routes.ts).
export function configureFastifyRoutes(adapterHost: HttpAdapterHost, paths: string[], bulkLimitBytes: number): void {
  const http = adapterHost.httpAdapter;
  if (http?.getType() !== 'fastify') return;
  const fastify = http.getInstance<FastifyInstance>();
  const bounds = bodyBounds(bulkLimitBytes);
  const ours = (url: string) => paths.some((path) => url === path || url.startsWith(`${path}/`));
  if (!fastify.hasContentTypeParser('text/csv')) {
    fastify.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  }
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (!ours(route.url)) return;
    const size = bodySizeOf(route.config);
    route.bodyLimit = bounds[size].bytes;
    route.preParsing = [...[route.preParsing ?? []].flat(), scanJson(bounds[size])];
    route.errorHandler ??= (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id).header('cache-control', 'no-store');
      sendError(http, reply, toErrorResponse(error, String(request.id), logger));
    };
  });
}

// A JSON body is scanned as it arrives and refused (400) once it nests too deep or holds too many
// values for its route, before it is parsed.
function scanJson(bounds: ConstructorParameters<typeof JsonBoundsScanner>[0]): preParsingHookHandler {
  return (request, _reply, payload, done) => {
    if (!/^\s*application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
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
