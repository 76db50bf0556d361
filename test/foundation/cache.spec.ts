import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { Test, type TestingModule } from '@nestjs/testing';
import { UserCache } from '../../src/users/user-cache.service';
import { AppConfigModule } from '../../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../../src/app.module';
import type { UserAuthState } from '../../src/users/user.model';
import { UsersRepository } from '../../src/users/users.repository';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { testConfig } from '../support/test-config';

const CACHE_TIMEOUT_MS = 100;
const redisUrl = process.env.REDIS_URL;
const describeWithRedis = redisUrl ? describe : describe.skip;

// A second app instance on the same database and the same cache, as a scaled-out deployment runs.
async function secondInstance(ctx: RepositoryContext): Promise<{ users: UsersRepository; module: TestingModule }> {
  const module = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(testConfig(ctx.database.url, { redisUrl })), appDataSource(), appUsersModule({ routes: false })],
  }).compile();
  await module.init();
  return { users: module.get(UsersRepository), module };
}

// Accepts connections and never answers: a hung Redis (or a network that drops replies).
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `redis://127.0.0.1:${port}`;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

function authState(id: string): UserAuthState {
  const now = new Date();
  return {
    id,
    email: `${id}@example.com`,
    fullName: null,
    isActive: true,
    isDeleted: false,
    deletedAt: null,
    roles: ['user'],
    metadata: {},
    createdAt: now,
    updatedAt: now,
    lastLoginAt: null,
    version: 1,
    tokenEpoch: '0',
  };
}

// Caches `users` through UserCache a batch at a time and reads them back, trying the misses again
// (a call can outlast its time box on a loaded machine); resolves with the ids it could not cache.
describeWithRedis('user cache in Redis (needs REDIS_URL)', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({ redisUrl });
  });
  afterAll(() => ctx.close());

  it('is shared by every instance: a read is served from Redis, not from the database', async () => {
    const other = await secondInstance(ctx);
    try {
      const user = await ctx.users.createUserWithValidation(`shared-${Date.now()}@example.com`, 'correct horse battery');
      await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ id: user.id });
      // Behind the repository's back: only a cached copy still has the old name.
      await ctx.sql('UPDATE users SET full_name = $2 WHERE id = $1', [user.id, 'Changed In SQL']);
      await expect(other.users.getUserById(user.id)).resolves.toMatchObject({ id: user.id, fullName: user.fullName });
    } finally {
      await other.module.close();
    }
  });

  // A bulk update, bulk delete or import invalidates every user it touched at once; sent as one
  // call it outlasted the time box against a healthy Redis, so all of it went pending for good.
  it('invalidates 10,000 users at once against a healthy Redis: every entry gone, none left pending, no outage logged', async () => {
    const cache = ctx.module.get(UserCache, { strict: false });
    const store = ctx.module.get<Cache>(CACHE_MANAGER, { strict: false });
    const users = Array.from({ length: 10_000 }, () => authState(randomUUID()));
    const ids = users.map((u) => u.id);
    const keys = ids.map((id) => `user:${id}`);
    // Entries written straight into the store (as UserCache stores them: dates as ISO strings), so
    // that only the invalidation is measured, not 20,000 time-boxed calls to fill and read back.
    await store.mset(users.map((u) => ({ key: `user:${u.id}`, value: JSON.parse(JSON.stringify(u)) as unknown, ttl: 60_000 })));
    expect((await store.mget(keys)).filter((entry) => entry === undefined)).toHaveLength(0);

    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const invalidation = await timed(() => cache.delete(ids));
      expect(warn.mock.calls.filter(([message]) => /user cache.*unavailable/.test(String(message)))).toEqual([]);
      expect(invalidation.ms).toBeLessThan(3000);
      const left = await store.mget(keys);
      expect(left.filter((entry) => entry !== undefined)).toHaveLength(0);
      // A pending key is neither written nor read by this instance: these can be cached again.
      for (const user of [users[0], users[4_999], users[9_999]]) {
        await cache.set(user);
        expect(await cache.get(user.id)).toMatchObject({ id: user.id });
      }
    } finally {
      warn.mockRestore();
      await cache.delete(ids);
    }
    // 10,000 entries written, read and deleted: room for a loaded machine.
  }, 60_000);
});

describe('user cache when Redis does not answer', () => {
  it.each([
    ['accepts connections and never answers', silentServer],
    ['is not listening', async () => ({ url: await closedPortUrl(), close: async () => undefined })],
  ])('treats a Redis that %s as a miss, neither hanging nor failing', async (_, startRedis) => {
    const redis = await startRedis();
    const ctx = await createRepositoryContext({ redisUrl: redis.url, cacheTimeoutMs: CACHE_TIMEOUT_MS });
    try {
      const created = await timed(() => ctx.users.createUserWithValidation('hung-redis@example.com', 'correct horse battery'));
      const read = await timed(() => ctx.users.getUserById(created.value.id));
      expect(read.value).toEqual(created.value);
      // A miss costs at most one time-boxed get and one set on top of the database.
      expect(read.ms).toBeLessThan(2 * CACHE_TIMEOUT_MS + 1000);
      await ctx.sql('UPDATE users SET full_name = $2 WHERE id = $1', [created.value.id, 'Fresh From The Database']);
      await expect(ctx.users.getUserById(created.value.id)).resolves.toMatchObject({ fullName: 'Fresh From The Database' });
    } finally {
      const closing = await timed(() => ctx.close());
      await redis.close();
      expect(closing.ms).toBeLessThan(5000);
    }
  });
});
