import { Logger as NestLogger, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet from '@fastify/helmet';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { ShuttingDownError } from './errors/domain-error';
import { sendError, toErrorResponse } from './errors/errors.filter';
import { requestIdFor } from './logging/logging.module';

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
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestIdFor,
    // Requests that arrive while draining get the app's own 503 (below), not Fastify's body.
    return503OnClosing: false,
  });
  // Every answer carries its request id, so a caller can quote it and its log lines be found.
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (!adapter.draining) return done();
    void reply.header('connection', 'close');
    sendError(reply, toErrorResponse(new ShuttingDownError(), String(request.id), drainLogger));
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
  // Bodies are JSON, or text/csv for imports (reaching the controller as a string). Any other type
  // is refused with 415 by Fastify before a guard runs, so it costs no rate-limit budget.
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  fastify.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    void parseJson(request, body.toString(), (error, value) => done(error ?? nestingError(value), value));
  });
  setUpOpenApi(app);
  await app.init();
  return app;
}

// No request body needs more than a few levels; a deeply nested one (a 4 KB body can nest
// 2,000 arrays) would exhaust the stack of class-transformer before validation could refuse it.
const MAX_JSON_DEPTH = 32;

function nestingError(value: unknown): (Error & { statusCode: number }) | null {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > MAX_JSON_DEPTH) return Object.assign(new Error(`JSON bodies may nest at most ${MAX_JSON_DEPTH} levels`), { statusCode: 400 });
    level = level.flatMap((node) => (typeof node === 'object' && node !== null ? Object.values(node) : []));
  }
  return null;
}

// Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the DTOs.
function setUpOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Users API')
      .setDescription('User records: lookups, search, bulk, import/export, roles, audit and GDPR erasure. Every /users route needs an admin bearer token from POST /auth/login.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
