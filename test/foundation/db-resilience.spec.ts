import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { UsersRepository } from '../../src/users/users.repository';
import type { AppConfig } from '../../src/config/app-config';
import { createTestDatabase, withAdminClient, type TestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';
import { TcpProxy } from '../support/tcp-proxy';

async function startApp(databaseUrl: string, overrides: Partial<AppConfig> = {}): Promise<NestFastifyApplication> {
  const app = await createApp(testConfig(databaseUrl, overrides));
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

async function terminateBackends(databaseUrl: string): Promise<number> {
  return withAdminClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return rows[0].n;
  });
}

describe('database resilience', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('serves the very next request after every pooled connection was terminated', async () => {
    const app = await startApp(database.url, { databasePoolMax: 5 });
    try {
      // Many rounds, because whether a killed connection's notice arrives before the next
      // checkout is a race: the product must win it every time.
      for (let round = 0; round < 30; round++) {
        await Promise.all([1, 2, 3, 4, 5].map(() => request(app.getHttpServer()).get('/health').expect(200)));
        await expect(terminateBackends(database.url)).resolves.toBeGreaterThan(0);
        const res = await request(app.getHttpServer()).get('/health');
        expect({ round, status: res.status }).toEqual({ round, status: 200 });
      }
    } finally {
      await app.close();
    }
  });

  it('serves the very next repository read after every pooled connection was terminated', async () => {
    const app = await startApp(database.url, { databasePoolMax: 5 });
    const users = app.get(UsersRepository);
    try {
      for (let round = 0; round < 30; round++) {
        await Promise.all([1, 2, 3, 4, 5].map(() => users.countUsers()));
        await expect(terminateBackends(database.url)).resolves.toBeGreaterThan(0);
        await expect(users.listUsersPaginated(0, 10)).resolves.toMatchObject({ offset: 0, limit: 10 });
      }
    } finally {
      await app.close();
    }
  });

  it('answers 503 DATABASE_UNAVAILABLE within the connect timeout when the server is gone, and recovers', async () => {
    const proxy = await TcpProxy.start(new URL(database.url));
    const app = await startApp(proxy.url(database.url), { databaseConnectTimeoutMs: 1000 });
    const unavailable = { statusCode: 503, code: 'DATABASE_UNAVAILABLE', details: { database: 'down' } };
    try {
      await request(app.getHttpServer()).get('/health').expect(200);

      proxy.switchTo('refuse');
      let started = Date.now();
      let res = await request(app.getHttpServer()).get('/health').expect(503);
      expect(res.body).toMatchObject({ ...unavailable, requestId: res.headers['x-request-id'] });
      expect(res.headers['retry-after']).toBe('1');
      expect(Date.now() - started).toBeLessThan(1000);
      // A route that reads users answers with the same body (login is the public one).
      started = Date.now();
      res = await request(app.getHttpServer()).post('/auth/login').send({ email: 'someone@example.com', password: 'a-password-1' }).expect(503);
      expect(res.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(1000);

      // A host that accepts and never answers: only the connect timeout ends the wait.
      proxy.switchTo('blackhole');
      started = Date.now();
      res = await request(app.getHttpServer()).get('/health').expect(503);
      expect(res.body).toMatchObject(unavailable);
      expect(Date.now() - started).toBeLessThan(2500);

      proxy.switchTo('forward');
      await request(app.getHttpServer()).get('/health').expect(200);
    } finally {
      await app.close();
      await proxy.close();
    }
  });
});

