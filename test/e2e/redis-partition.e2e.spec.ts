import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type Redis from 'ioredis';
import { createApp } from '../../src/app.factory';
import { THROTTLER_REDIS } from '../../src/throttling/throttling.module';
import { createTestApp, type TestApp } from '../harness/create-test-app';
import { RedisServer } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';

// Longer than the retry schedule the cache used to give up after (250 + 1000 + 4000 ms).
const PARTITION_MS = 6000;
// The README's bound once Redis is reachable again (about 5 s), with room for a loaded machine;
// the cache TTL (60 s) is what a lost invalidation used to cost.
const HEALED_WITHIN_MS = 10000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two instances on one PostgreSQL and one redis-server of the test's own, which keeps its data
// throughout: the writer reaches it through a TCP proxy that the test blackholes (connections cut,
// new ones accepted and never answered), the reader directly.
describe('a Redis partition between one instance and Redis', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let writer: TestApp;
  let reader: NestFastifyApplication;
  let admin: { authorization: string };

  beforeAll(async () => {
    redis = await RedisServer.start();
    proxy = await TcpProxy.start(new URL(redis.url));
    writer = await createTestApp({
      redisUrl: proxy.url(redis.url),
      throttleSensitive: { 'password-change': 100, anonymize: 100, export: 2, import: 100, 'bulk-delete': 100 },
    });
    reader = await createApp({ ...writer.config, redisUrl: redis.url, adminEmail: undefined, adminPassword: undefined });
    await reader.getHttpAdapter().getInstance().ready();
    admin = { authorization: `Bearer ${writer.adminToken}` };
  });
  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('retries the invalidation it could not make until Redis answers: a user deactivated meanwhile is fresh, and its token refused, on every instance soon after; shared limits resume', async () => {
    const { user, password } = await writer.factories.createUser();
    const token = { authorization: `Bearer ${await writer.tokenFor(user, password)}` };
    const onReader = request(reader.getHttpServer());
    // The reader caches the user in Redis.
    await onReader.get('/auth/me').set(token).expect(200);

    proxy.switchTo('blackhole');
    await writer.http.patch(`/users/${user.id}`).set(admin).send({ isActive: false }).expect(200);
    // The writer does not trust an entry whose invalidation is unconfirmed: it reads through.
    const onWriter = await writer.http.get(`/users/${user.id}`).set(admin).expect(200);
    expect(onWriter.body.isActive).toBe(false);
    await writer.http.get('/auth/me').set(token).expect(401);
    // The reader cannot know until the invalidation lands (the README's bound for a partition).
    await onReader.get('/auth/me').set(token).expect(200);
    await sleep(PARTITION_MS);

    proxy.switchTo('forward');
    const healed = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - healed < 30000) {
      await sleep(200);
      status = (await onReader.get('/auth/me').set(token)).status;
    }
    const staleForMs = Date.now() - healed;
    expect({ status, staleForMs }).toEqual({ status: 401, staleForMs: expect.any(Number) });
    expect(staleForMs).toBeLessThan(HEALED_WITHIN_MS);
    const onReaderNow = await onReader.get(`/users/${user.id}`).set(admin).expect(200);
    expect(onReaderNow.body.isActive).toBe(false);

    // The writer's rate-limit client is back too, so limits are shared again: behind the
    // partition its connection was accepted but never answered, and a client that waits for its
    // handshake forever would have counted in this process for good.
    const limiter = writer.app.get<Redis>(THROTTLER_REDIS);
    for (const since = Date.now(); limiter.status !== 'ready' && Date.now() - since < HEALED_WITHIN_MS; ) await sleep(100);
    expect(limiter.status).toBe('ready');
    await onReader.get('/users/export').set(admin).expect(200);
    await writer.http.get('/users/export').set(admin).expect(200);
    const refused = await writer.http.get('/users/export').set(admin).expect(429);
    expect(refused.body.code).toBe('RATE_LIMITED');
  }, 60000);
});
