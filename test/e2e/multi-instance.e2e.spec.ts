import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { createTestApp, type TestApp } from '../harness/create-test-app';

// Two stateless app instances on one PostgreSQL and one Redis, as a scaled-out deployment runs.
const describeRedis = process.env.REDIS_URL ? describe : describe.skip;

describeRedis('two app instances sharing PostgreSQL and Redis (needs REDIS_URL)', () => {
  let a: TestApp;
  let b: NestFastifyApplication;
  let auth: { authorization: string };

  beforeAll(async () => {
    a = await createTestApp({ throttleSensitive: { 'password-change': 100, anonymize: 100, export: 2, import: 100, 'bulk-delete': 100 } });
    b = await createApp({ ...a.config, adminEmail: undefined, adminPassword: undefined });
    await b.getHttpAdapter().getInstance().ready();
    auth = { authorization: `Bearer ${a.adminToken}` };
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('sees an update made through the other instance at once (shared cache invalidation)', async () => {
    const { user } = await a.factories.createUser({ fullName: 'Old Name' });
    const onB = request(b.getHttpServer());
    await onB.get(`/users/${user.id}`).set(auth).expect(200);
    await a.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'New Name' }).expect(200);
    const seen = await onB.get(`/users/${user.id}`).set(auth).expect(200);
    expect(seen.body.fullName).toBe('New Name');
  });

  it('shares rate limits: the third export across both instances is refused', async () => {
    await a.http.get('/users/export').set(auth).expect(200);
    await request(b.getHttpServer()).get('/users/export').set(auth).expect(200);
    const refused = await a.http.get('/users/export').set(auth).expect(429);
    expect(refused.body.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
