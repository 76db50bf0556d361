import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { withTimeout } from '../common/with-timeout';
import { AppConfig } from '../config/app-config';
import { RateLimitExceededError } from '../errors/domain-error';

// A limit no counter reaches: used to count or to read a lock without ever tripping it.
const UNLIMITED = Number.MAX_SAFE_INTEGER;
const STORAGE_TIMEOUT_MS = 1000;
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

// Login's own limiter, on the shared throttler storage (in memory, or Redis shared by every app
// instance). Two budgets per THROTTLE_WINDOW_MS:
// - per client address, every attempt counts (THROTTLE_LOGIN_ADDRESS);
// - per account (canonical email, whether or not it exists, so locks reveal nothing), only
//   failures count (THROTTLE_LOGIN_ACCOUNT_FAILURES): reaching the budget locks the account for a
//   window, and a successful login costs nothing.
// ThrottlerStorage can only increment, so the account lock is a separate key that is tripped with
// a limit of 0 and read with an unreachable limit.
@Injectable()
export class LoginLimiter {
  private readonly logger = new Logger(LoginLimiter.name);

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  async countAddressAttempt(address: string): Promise<void> {
    const record = await this.increment(`login:address:${address}`, this.config.throttleLoginAddress, 'login-address');
    if (record?.isBlocked) throw new RateLimitExceededError(secondsToMs(record.timeToBlockExpire), 'login');
  }

  async assertAccountNotLocked(account: string): Promise<void> {
    const lock = await this.increment(lockKey(account), UNLIMITED, 'login-account-lock');
    if (lock?.isBlocked) throw new RateLimitExceededError(secondsToMs(lock.timeToBlockExpire), 'login');
  }

  async countAccountFailure(account: string): Promise<void> {
    const failures = await this.increment(`login:account:${account}`, UNLIMITED, 'login-account-failures');
    if (failures && failures.totalHits >= this.config.throttleLoginAccountFailures) {
      await this.increment(lockKey(account), 0, 'login-account-lock');
    }
  }

  // Fails open, like the other sensitive-action limits: a Redis outage must not become an outage
  // of logins. Each attempt still costs a full argon2 verification, which bounds guessing.
  private async increment(key: string, limit: number, name: string): Promise<ThrottlerStorageRecord | undefined> {
    const window = this.config.throttleWindowMs;
    try {
      return await withTimeout(this.storage.increment(key, window, limit, window, name), STORAGE_TIMEOUT_MS, 'login limiter storage');
    } catch (error) {
      this.logger.warn(`login limiter storage unavailable, allowing the attempt: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}

function lockKey(account: string): string {
  return `login:account-lock:${account}`;
}

function secondsToMs(seconds: number): number {
  return Math.max(1, seconds) * 1000;
}
