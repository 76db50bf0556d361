import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, RateLimitExceededError } from '../../src/errors/domain-error';
import { UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';

const itRedis = process.env.REDIS_URL ? it : it.skip;

const WINDOW_MS = 60_000;
const LIMITS = { 'password-change': 2, anonymize: 3, export: 1, import: 5, 'bulk-delete': 5 };

// Calls alternate between the two instances; together they use up one budget.
async function expectSharedLimit(first: RepositoryContext, second: RepositoryContext): Promise<void> {
  const userId = randomUUID();
  await first.users.sensitiveUserAction(userId, 'anonymize');
  await second.users.sensitiveUserAction(userId, 'anonymize');
  await first.users.sensitiveUserAction(userId, 'anonymize');
  await expect(second.users.sensitiveUserAction(userId, 'anonymize')).rejects.toBeInstanceOf(RateLimitExceededError);
  await expect(first.users.sensitiveUserAction(userId, 'anonymize')).rejects.toBeInstanceOf(RateLimitExceededError);
}

describe('sensitiveUserAction', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({ throttleWindowMs: WINDOW_MS, throttleSensitive: LIMITS });
  });
  afterAll(() => ctx.close());

  it('allows the configured number of calls, then throws RATE_LIMITED with the time to wait', async () => {
    const userId = randomUUID();
    await ctx.users.sensitiveUserAction(userId, 'password-change');
    await ctx.users.sensitiveUserAction(userId, 'password-change');
    const error = await ctx.users.sensitiveUserAction(userId, 'password-change').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error).toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { action: 'password-change' } });
    const { retryAfterMs } = error as RateLimitExceededError;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
    await expect(ctx.users.sensitiveUserAction(userId, 'password-change')).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  it('counts each user and each action separately, with its own limit', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    await ctx.users.sensitiveUserAction(alice, 'export');
    await expect(ctx.users.sensitiveUserAction(alice, 'export')).rejects.toBeInstanceOf(RateLimitExceededError);
    await expect(ctx.users.sensitiveUserAction(bob, 'export')).resolves.toBeUndefined();
    for (let i = 0; i < LIMITS.anonymize; i += 1) await ctx.users.sensitiveUserAction(alice, 'anonymize');
    await expect(ctx.users.sensitiveUserAction(alice, 'anonymize')).rejects.toBeInstanceOf(RateLimitExceededError);
  });

  it('rejects an unknown action or an empty user id with VALIDATION_FAILED', async () => {
    await expect(ctx.users.sensitiveUserAction(randomUUID(), 'delete-everything')).rejects.toBeInstanceOf(UserValidationError);
    await expect(ctx.users.sensitiveUserAction('', 'export')).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
  });

  it('allows the action again once the window has passed', async () => {
    const short = await createRepositoryContext({ throttleWindowMs: 1000, throttleSensitive: LIMITS });
    try {
      const userId = randomUUID();
      await short.users.sensitiveUserAction(userId, 'export');
      const error = (await short.users.sensitiveUserAction(userId, 'export').catch((e: unknown) => e)) as RateLimitExceededError;
      expect(error).toBeInstanceOf(RateLimitExceededError);
      expect(error.retryAfterMs).toBeLessThanOrEqual(1000);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await expect(short.users.sensitiveUserAction(userId, 'export')).resolves.toBeUndefined();
    } finally {
      await short.close();
    }
  });

  itRedis('shares one limit between two app instances through Redis', async () => {
    const other = await createRepositoryContext({ throttleWindowMs: WINDOW_MS, throttleSensitive: LIMITS });
    try {
      await expectSharedLimit(ctx, other);
    } finally {
      await other.close();
    }
  });

  it('counts in this process, with one warning, when the shared storage is unreachable', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // Port 1 refuses connections: Redis is configured but down.
    const down = await createRepositoryContext({ redisUrl: 'redis://127.0.0.1:1', throttleWindowMs: WINDOW_MS, throttleSensitive: LIMITS });
    try {
      const userId = randomUUID();
      for (let i = 0; i < LIMITS.export; i += 1) await expect(down.users.sensitiveUserAction(userId, 'export')).resolves.toBeUndefined();
      for (let i = 0; i < 2; i += 1) await expect(down.users.sensitiveUserAction(userId, 'export')).rejects.toBeInstanceOf(RateLimitExceededError);
      const storageWarnings = warn.mock.calls.filter(([message]) => String(message).includes('rate-limit storage'));
      expect(storageWarnings).toEqual([[expect.stringContaining('rate-limit storage unavailable')]]);
    } finally {
      await down.close();
      warn.mockRestore();
    }
  });
});
