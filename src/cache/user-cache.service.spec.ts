import type { Cache } from '@nestjs/cache-manager';
import { parseEnv } from '../config/app-config';
import { UserCache } from './user-cache.service';

// The retry schedule is plain logic over the cache's answers; a cache that fails on demand stands
// in for a Redis blip (the outage itself is covered against real Redis in test/foundation).
describe('UserCache invalidation', () => {
  it('retries a failed delete in the background until it succeeds', async () => {
    jest.useFakeTimers();
    const calls: string[][] = [];
    let failures = 2;
    const cache = {
      mdel: (keys: string[]) => {
        calls.push(keys);
        return failures-- > 0 ? Promise.reject(new Error('connection lost')) : Promise.resolve(true);
      },
    } as unknown as Cache;
    const users = new UserCache(cache, parseEnv({ LOG_LEVEL: 'silent' }));
    try {
      await users.delete(['a', 'b']);
      expect(calls).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(250);
      expect(calls).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1000);
      expect(calls).toHaveLength(3);
      await jest.advanceTimersByTimeAsync(10000);
      expect(calls).toEqual([['user:a', 'user:b'], ['user:a', 'user:b'], ['user:a', 'user:b']]);
    } finally {
      jest.useRealTimers();
    }
  });
});
