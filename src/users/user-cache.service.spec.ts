import type { Cache } from '@nestjs/cache-manager';
import { UserCache } from './user-cache.service';

// The retry schedule is plain logic over the cache's answers; a cache that fails on demand stands
// in for Redis (the partition itself is covered against real Redis in test/e2e).
describe('UserCache invalidation', () => {
  let calls: { op: string; keys: string[] }[];
  let failures: number;
  // Keys whose chunk fails, as if that call were the one Redis never answered.
  let unreachable: Set<string>;
  let users: UserCache;

  beforeEach(() => {
    jest.useFakeTimers();
    calls = [];
    failures = 0;
    unreachable = new Set();
    const store = {
      deleteMany: (keys: string[]) => {
        calls.push({ op: 'deleteMany', keys });
        const fails = failures-- > 0 || keys.some((k) => unreachable.has(k));
        return fails ? Promise.reject(new Error('connection lost')) : Promise.resolve(true);
      },
    };
    const cache = {
      stores: [store],
      get: (k: string) => (calls.push({ op: 'get', keys: [k] }), Promise.resolve(undefined)),
    } as unknown as Cache;
    users = new UserCache(cache, { ttlMs: 60000, timeoutMs: 150, maxEntries: 10000 });
  });
  afterEach(() => {
    users.onModuleDestroy();
    jest.useRealTimers();
  });

  const deletes = () => calls.filter((c) => c.op === 'deleteMany');
  const gets = () => calls.filter((c) => c.op === 'get').flatMap((c) => c.keys);

  it('retries a failed delete with capped backoff until it succeeds, reading through meanwhile', async () => {
    failures = 6;
    await users.delete(['a']);
    // 250, 500, 1000, 2000, then every 2000 ms: the seventh call (7,750 ms in) succeeds.
    await jest.advanceTimersByTimeAsync(250 + 500 + 1000 + 2000 + 2000);
    expect(deletes()).toHaveLength(6);
    await expect(users.get('a')).resolves.toBeUndefined();
    expect(calls.filter((c) => c.op === 'get')).toEqual([]);
    await jest.advanceTimersByTimeAsync(2000);
    expect(deletes()).toHaveLength(7);
    await users.get('a');
    expect(calls.filter((c) => c.op === 'get')).toEqual([{ op: 'get', keys: ['user:a'] }]);
    await jest.advanceTimersByTimeAsync(60000);
    expect(deletes()).toHaveLength(7);
  });

  it('retries every pending key in one loop, however many invalidations failed', async () => {
    failures = 3;
    await users.delete(['a']);
    await users.delete(['b', 'c']);
    await jest.advanceTimersByTimeAsync(250);
    expect(deletes().map((c) => c.keys)).toEqual([['user:a'], ['user:b', 'user:c'], ['user:a', 'user:b', 'user:c']]);
    await jest.advanceTimersByTimeAsync(500);
    expect(deletes()).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(60000);
    expect(deletes()).toHaveLength(4);
  });

  it('invalidates 500 keys per call; a failed chunk ends the attempt, and only the keys not confirmed are retried, in chunks', async () => {
    unreachable.add('user:u700');
    await users.delete(Array.from({ length: 1200 }, (_, i) => `u${i}`));
    const sent = () => deletes().map((c) => [c.keys[0], c.keys.length]);
    expect(sent()).toEqual([
      ['user:u0', 500],
      ['user:u500', 500],
    ]);
    // The confirmed chunk is read from the cache again; the others read through.
    for (const id of ['u0', 'u500', 'u1199']) await users.get(id);
    expect(gets()).toEqual(['user:u0']);

    unreachable.clear();
    await jest.advanceTimersByTimeAsync(250);
    expect(sent().slice(2)).toEqual([
      ['user:u500', 500],
      ['user:u1000', 200],
    ]);
    for (const id of ['u500', 'u1199']) await users.get(id);
    expect(gets()).toEqual(['user:u0', 'user:u500', 'user:u1199']);
    await jest.advanceTimersByTimeAsync(60000);
    expect(deletes()).toHaveLength(4);
  });
});
