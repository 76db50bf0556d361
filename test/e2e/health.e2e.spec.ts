import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import type { AppConfig } from '../../src/config/app-config';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';
import { TcpProxy } from '../support/tcp-proxy';
import { RedisServer } from '../support/redis-server';

async function startApp(databaseUrl: string, overrides: Partial<AppConfig>): Promise<NestFastifyApplication> {
  const app = await createApp(testConfig(databaseUrl, overrides));
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

// Liveness asks nothing; readiness needs PostgreSQL, and reports a Redis outage without failing.
describe('/health/live, /health/ready and /health', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('stays ready (degraded) while Redis is down, and answers 503 while PostgreSQL is; live stays 200 throughout', async () => {
    const redis = await RedisServer.start();
    const proxy = await TcpProxy.start(new URL(database.url));
    const app = await startApp(proxy.url(database.url), { redisUrl: redis.url, databaseConnectTimeoutMs: 1000 });
    const http = () => request(app.getHttpServer());
    const live = async () => expect((await http().get('/health/live').expect(200)).body).toEqual({ status: 'ok' });
    try {
      await live();
      for (const path of ['/health/ready', '/health']) {
        const res = await http().get(path).expect(200);
        expect(res.body).toMatchObject({ status: 'ok', details: { database: { status: 'up' }, redis: { status: 'up' } } });
      }

      await redis.stop();
      const started = Date.now();
      for (const path of ['/health/ready', '/health']) {
        const res = await http().get(path).expect(200);
        expect(res.body).toMatchObject({ status: 'degraded', details: { database: { status: 'up' }, redis: { status: 'degraded', message: expect.any(String) } } });
      }
      expect(Date.now() - started).toBeLessThan(2500);
      await live();

      proxy.switchTo('refuse');
      for (const path of ['/health/ready', '/health']) {
        const res = await http().get(path).expect(503);
        expect(res.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE', details: { database: 'down', redis: 'degraded' } });
      }
      await live();

      proxy.switchTo('forward');
      await http().get('/health/ready').expect(200);
    } finally {
      await app.close();
      await proxy.close();
      await redis.stop();
    }
  });

  it('checks PostgreSQL only when no Redis is configured', async () => {
    const app = await startApp(database.url, { redisUrl: undefined });
    try {
      const res = await request(app.getHttpServer()).get('/health/ready').expect(200);
      expect(res.body).toEqual({ status: 'ok', info: { database: expect.any(Object) }, error: {}, details: { database: { status: 'up', responseTime: expect.any(Number) } } });
    } finally {
      await app.close();
    }
  });
});
