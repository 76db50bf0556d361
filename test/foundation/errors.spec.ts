import { HttpException, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { QueryFailedError } from 'typeorm';
import { Client } from 'pg';
import { createApp } from '../../src/app.factory';
import { DatabaseUnavailableError, ErrorCode, RateLimitExceededError, ValidationFailedError } from '../../src/errors/domain-error';
import { toErrorResponse } from '../../src/errors/errors.filter';
import { createTestApp } from '../harness/create-test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('toErrorResponse', () => {
  const logger = new Logger('errors-spec');
  let logged: unknown[][];

  beforeEach(() => {
    logged = [];
    jest.spyOn(logger, 'error').mockImplementation((...args: unknown[]) => void logged.push(['error', ...args]));
    jest.spyOn(logger, 'warn').mockImplementation((...args: unknown[]) => void logged.push(['warn', ...args]));
  });

  it('answers an unknown error with a bare 500 and the request id; the log line keeps the detail', () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'hashedPassword') at /srv/app/dist/users.js:42");
    const { body, retryAfterSeconds } = toErrorResponse(error, 'req-1', logger);
    expect(body).toEqual({ statusCode: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error', requestId: 'req-1' });
    expect(retryAfterSeconds).toBeUndefined();
    expect(logged).toEqual([['error', { err: error, requestId: 'req-1' }, 'unhandled error']]);
  });

  it('does not leak an unexpected SQL error', () => {
    const error = new QueryFailedError('SELECT secret FROM users', [], Object.assign(new Error('column "secret" does not exist'), { code: '42703' }));
    const { body } = toErrorResponse(error, 'req-2', logger);
    expect(body).toEqual({ statusCode: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error', requestId: 'req-2' });
    expect(JSON.stringify(body)).not.toContain('secret');
  });

  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' })],
    ['a pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['a terminated backend', new QueryFailedError('SELECT 1', [], Object.assign(new Error('terminating connection'), { code: '57P01' }))],
    ['a statement the server never answered (client-side timeout)', new QueryFailedError('SELECT 1', [], new Error('Query read timeout'))],
    ['too many connections', Object.assign(new Error('sorry, too many clients already'), { code: '53300' })],
  ])('answers %s with 503 DATABASE_UNAVAILABLE and Retry-After, naming no host', (_, error) => {
    const { body, retryAfterSeconds } = toErrorResponse(error, 'req-3', logger);
    expect(body).toEqual({
      statusCode: 503,
      code: ErrorCode.DATABASE_UNAVAILABLE,
      message: 'The database is unavailable; retry shortly',
      requestId: 'req-3',
    });
    expect(retryAfterSeconds).toBe(1);
    expect(logged[0][0]).toBe('warn');
  });

  it('answers a statement timeout (57014) with 504 QUERY_TIMEOUT and no Retry-After: the same query would time out again', () => {
    const error = new QueryFailedError('SELECT 1', [], Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }));
    const { body, retryAfterSeconds } = toErrorResponse(error, 'req-4', logger);
    expect(body).toEqual({
      statusCode: 504,
      code: ErrorCode.QUERY_TIMEOUT,
      message: 'The query took longer than the statement timeout',
      requestId: 'req-4',
    });
    expect(retryAfterSeconds).toBeUndefined();
  });

  it('keeps only each indicator status from a failed health check', () => {
    const error = new ServiceUnavailableException({
      status: 'error',
      error: { database: { status: 'down', message: 'connect ECONNREFUSED 10.0.0.5:5432' } },
      details: { database: { status: 'down', message: 'connect ECONNREFUSED 10.0.0.5:5432' } },
    });
    const { body } = toErrorResponse(error, 'req-4', logger);
    expect(body).toMatchObject({ statusCode: 503, code: ErrorCode.DATABASE_UNAVAILABLE, details: { database: 'down' } });
    expect(JSON.stringify(body)).not.toContain('10.0.0.5');
  });

  it('maps domain errors to their one status with details', () => {
    const invalid = new ValidationFailedError([{ field: 'email', reason: 'must contain exactly one @' }]);
    expect(toErrorResponse(invalid, 'r', logger).body).toEqual({
      statusCode: 400,
      code: ErrorCode.VALIDATION_FAILED,
      message: 'email: must contain exactly one @',
      details: [{ field: 'email', reason: 'must contain exactly one @' }],
      requestId: 'r',
    });
    expect(toErrorResponse(new RateLimitExceededError(61500, 'export'), 'r', logger)).toMatchObject({
      body: { statusCode: 429, code: ErrorCode.RATE_LIMITED },
      retryAfterSeconds: 62,
    });
    expect(toErrorResponse(new DatabaseUnavailableError(), 'r', logger).body.statusCode).toBe(503);
    expect(logged).toEqual([]);
  });

  it('keeps client errors from Nest and Fastify as they are', () => {
    expect(toErrorResponse(new NotFoundException('Cannot GET /nope'), 'r', logger).body).toEqual({
      statusCode: 404,
      code: ErrorCode.NOT_FOUND,
      message: 'Cannot GET /nope',
      requestId: 'r',
    });
    const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(toErrorResponse(tooLarge, 'r', logger).body).toMatchObject({ statusCode: 413, code: ErrorCode.PAYLOAD_TOO_LARGE });
    expect(toErrorResponse(new HttpException('I am a teapot', 418), 'r', logger).body).toMatchObject({ statusCode: 418 });
  });

  it('never lets a server-side HttpException carry its message out', () => {
    const { body } = toErrorResponse(new HttpException('upstream 10.0.0.7 said no', 502), 'r', logger);
    expect(body).toEqual({ statusCode: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error', requestId: 'r' });
  });
});

describe('request ids over HTTP', () => {
  let database: TestDatabase;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await createApp(testConfig(database.url));
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it("echoes a caller's plain X-Request-Id", async () => {
    const res = await request(app.getHttpServer()).get('/health').set('X-Request-Id', 'trace-42.a:b_c').expect(200);
    expect(res.headers['x-request-id']).toBe('trace-42.a:b_c');
  });

  it('replaces an unsafe or oversized one with a fresh UUID', async () => {
    for (const sent of ['has spaces and "quotes"', 'x'.repeat(129)]) {
      const res = await request(app.getHttpServer()).get('/health').set('X-Request-Id', sent).expect(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
    }
  });

  it('gives every answer an id, and an error body the same one', async () => {
    const res = await request(app.getHttpServer()).get('/no-such-route').expect(404);
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(res.body).toMatchObject({ statusCode: 404, code: ErrorCode.NOT_FOUND, requestId: res.headers['x-request-id'] });
  });
});

describe('statement timeouts over HTTP', () => {
  it('answers 504 QUERY_TIMEOUT, without Retry-After, when a route waits longer than DATABASE_STATEMENT_TIMEOUT_MS', async () => {
    const t = await createTestApp({ databaseStatementTimeoutMs: 1000 });
    // The test's own transaction holds the table, so the route's statement waits until the
    // server cancels it.
    const locker = new Client({ connectionString: t.config.databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const res = await t.http.get('/users/count').set('authorization', `Bearer ${t.adminToken}`);
      expect({ status: res.status, body: res.body as unknown, retryAfter: res.headers['retry-after'] }).toEqual({
        status: 504,
        body: { statusCode: 504, code: 'QUERY_TIMEOUT', message: 'The query took longer than the statement timeout', requestId: res.headers['x-request-id'] },
        retryAfter: undefined,
      });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await t.close();
    }
  });
});
