import { Inject, Injectable } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { RateLimitExceededError } from '../errors/domain-error';

// A limit no counter reaches: used to count or to read a lock without ever tripping it.
const UNLIMITED = Number.MAX_SAFE_INTEGER;

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
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  async countAddressAttempt(address: string): Promise<void> {
    const window = this.config.throttleWindowMs;
    const record = await this.storage.increment(`login:address:${address}`, window, this.config.throttleLoginAddress, window, 'login-address');
    if (record.isBlocked) throw new RateLimitExceededError(secondsToMs(record.timeToBlockExpire), 'login');
  }

  async assertAccountNotLocked(account: string): Promise<void> {
    const window = this.config.throttleWindowMs;
    const lock = await this.storage.increment(lockKey(account), window, UNLIMITED, window, 'login-account-lock');
    if (lock.isBlocked) throw new RateLimitExceededError(secondsToMs(lock.timeToBlockExpire), 'login');
  }

  async countAccountFailure(account: string): Promise<void> {
    const window = this.config.throttleWindowMs;
    const failures = await this.storage.increment(`login:account:${account}`, window, UNLIMITED, window, 'login-account-failures');
    if (failures.totalHits >= this.config.throttleLoginAccountFailures) {
      await this.storage.increment(lockKey(account), window, 0, window, 'login-account-lock');
    }
  }
}

function lockKey(account: string): string {
  return `login:account-lock:${account}`;
}

function secondsToMs(seconds: number): number {
  return Math.max(1, seconds) * 1000;
}
