import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet from '@fastify/helmet';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { requestIdFor } from './logging/logging.module';

// Builds the application exactly as production runs it; main.ts, the test harness and the bench
// call it. `root` lets the bench add its reference routes beside the product's.
export async function createApp(config: AppConfig, root: DynamicModule = AppModule.forRoot(config)): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Fastify also accepts a hop count, which Nest's option type leaves out.
    trustProxy: config.trustProxy as boolean | string,
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestIdFor,
    return503OnClosing: true,
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
    done();
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
