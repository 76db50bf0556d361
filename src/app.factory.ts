import { Logger as NestLogger, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { bodyBounds } from './common/body-limits';
import { RESERVED_KEYS_REASON, reservedKeyPaths } from './common/reserved-keys';
import { AppConfig } from './config/app-config';
import { ShuttingDownError, ValidationFailedError } from './errors/domain-error';
import { sendError, toErrorResponse } from './errors/errors.filter';
import { requestIdFor } from './common/request-id';

const drainLogger = new NestLogger('Shutdown');

// app.close() runs the shutdown hooks (which close Redis and the pool) before it closes the HTTP
// server, so requests still in flight would reopen what was just closed and keep the process
// alive. Nest calls beforeClose first and awaits it: the server stops accepting there and the
// requests in flight finish before any hook runs; main.ts bounds the whole close with a deadline.
class DrainingFastifyAdapter extends FastifyAdapter {
  draining = false;

  // Typed void, but NestApplication.prepareClose awaits it (@nestjs/core 12.5); the SIGTERM process
  // test fails if a later Nest stops waiting.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  override async beforeClose(): Promise<void> {
    this.draining = true;
    const server = this.getHttpServer();
    // Not listening (an app only injected into) is already drained.
    if (!server.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// Builds the application exactly as production runs it; main.ts, the test harness and the bench
// call it. `root` lets the bench add its reference routes beside the product's.
export async function createApp(config: AppConfig, root: DynamicModule = AppModule.forRoot(config)): Promise<NestFastifyApplication> {
  const adapter = new DrainingFastifyAdapter({
    // Fastify also accepts a hop count, which Nest's option type leaves out.
    trustProxy: config.trustProxy as boolean | string,
    // Routes raise it with @BodyLimit (see installBodyLimits).
    bodyLimit: bodyBounds(config.bodyLimitBytes).small.bytes,
    genReqId: requestIdFor,
    // Requests that arrive while draining get the app's own 503 (below), not Fastify's body.
    return503OnClosing: false,
    // What Fastify and Node's HTTP parser refuse before any route runs gets the app's answer too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => answerFrameworkError(adapter, error, request, reply),
    clientErrorHandler: answerClientError,
    // A request (headers and body) must arrive within requestTimeout, or it is answered 408 and
    // its connection closed: a body trickled a byte at a time cannot hold a connection open.
    // It covers receiving only; a long streamed export is a response and is not cut.
    requestTimeout: config.httpRequestTimeoutMs,
    // A connection on which nothing moves either way for this long is closed.
    connectionTimeout: config.httpConnectionTimeoutMs,
    keepAliveTimeout: config.httpKeepAliveTimeoutMs,
    http: {
      requestTimeout: config.httpRequestTimeoutMs,
      headersTimeout: Math.min(60000, config.httpRequestTimeoutMs),
      // Node checks those deadlines every 30 s by default, which would let a request outlive its
      // timeout by that much.
      connectionsCheckingInterval: Math.min(1000, config.httpRequestTimeoutMs),
    },
  });
  // Every answer carries its request id, so a caller can quote it and its log lines be found.
  // Answers carry tokens and personal data (errors too): no browser or shared cache may keep
  // them. Swagger UI's static assets set their own caching over this.
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id).header('cache-control', 'no-store');
    if (!adapter.draining) return done();
    void reply.header('connection', 'close');
    sendError(adapter, reply, toErrorResponse(new ShuttingDownError(), String(request.id), drainLogger));
  });
  // A keep-alive connection whose request was in flight is closed once it is answered.
  adapter.getInstance().addHook('onSend', (_request, reply, payload, done) => {
    if (adapter.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    bufferLogs: true,
    // The body parsers are Fastify's, configured below.
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  await app.register(helmet, { contentSecurityPolicy: false });
  // Bodies are JSON, or text/csv for imports (UsersModule adds that parser, with each of its
  // routes' limits). Any other type is refused with 415 by Fastify before a guard runs, so it
  // costs no rate-limit budget.
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  // Fastify's own JSON parser (it refuses __proto__ and constructor.prototype keys), with an
  // answer that names such a key and where it is, instead of "Body is not valid JSON".
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parseJson(request, body.toString(), (error, value) => done(error ? (reservedKeysError(body) ?? error) : null, value));
  });
  setUpOpenApi(app);
  await app.init();
  return app;
}

// A body the secure parser refused that plain JSON.parse accepts held a prototype key (JSON.parse
// makes it an ordinary own key, safe to walk): the paths of such keys, as the app reports them.
function reservedKeysError(body: string | Buffer): ValidationFailedError | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString());
  } catch {
    return undefined;
  }
  const paths = reservedKeyPaths(value);
  return paths.length ? new ValidationFailedError(paths.map((field) => ({ field, reason: RESERVED_KEYS_REASON }))) : undefined;
}

const boundaryLogger = new NestLogger('HttpServer');

// A URL Fastify cannot route (a stray `%`, an over-long parameter): the app's error body, request
// id and no-store, as for any other answer.
function answerFrameworkError(adapter: FastifyAdapter, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('x-request-id', request.id).header('cache-control', 'no-store');
  sendError(adapter, reply, toErrorResponse(error, String(request.id), boundaryLogger));
}

const CLIENT_ERRORS: Record<string, { status: number; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received within the request timeout' },
  HPE_HEADER_OVERFLOW: { status: 431, message: 'The request headers are too large' },
};

// What Node's HTTP parser refuses before Fastify sees a request (a request not received within
// HTTP_REQUEST_TIMEOUT_MS, oversized headers, a malformed request line): there is no request
// object, so the answer is written on the socket, then the connection closed. A log line keeps
// the trace (slowloris attempts included).
function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, message: 'Malformed HTTP request' };
  const requestId = randomUUID();
  const { body } = toErrorResponse(Object.assign(new Error(message), { statusCode: status }), requestId, boundaryLogger);
  boundaryLogger.warn({ requestId, status, code: error.code, clientAddress: (socket as Duplex & { remoteAddress?: string }).remoteAddress }, 'client error');
  if (socket.writable) {
    const payload = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` +
        `Cache-Control: no-store\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${payload}`,
    );
  }
  socket.destroy();
}

// Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the DTOs.
function setUpOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Users API')
      .setDescription('User records: lookups, search, bulk, import/export, roles, audit and GDPR erasure. Every /users route needs an admin bearer token from POST /auth/login.')
      .setVersion('1')
      .setLicense('MIT', 'https://opensource.org/licenses/MIT')
      .addServer('/')
      .addBearerAuth()
      .build(),
  );
  describeCsvBodiesAsText(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

// @nestjs/swagger gives every media type an operation consumes the body's one schema; a text/csv
// body (POST /users/import) is text with a header row, not the JSON object.
function describeCsvBodiesAsText(document: OpenAPIObject): void {
  for (const operation of Object.values(document.paths).flatMap((path) => [path.get, path.put, path.post, path.patch, path.delete])) {
    const content = operation?.requestBody && 'content' in operation.requestBody ? operation.requestBody.content : undefined;
    if (content?.['text/csv']) content['text/csv'] = { schema: { type: 'string', description: 'CSV: a header row naming the columns of the JSON form, then one user per row' } };
  }
}
