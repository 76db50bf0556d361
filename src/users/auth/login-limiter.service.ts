import { Injectable } from '@nestjs/common';
import { RateLimitExceededError } from '../../errors/domain-error';
import { RateCounter } from '../../throttling/rate-counter.service';
import { ThrottleSettings } from '../../throttling/throttle.settings';

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
    private readonly counter: RateCounter,
    private readonly settings: ThrottleSettings,
  ) {}

  async countAddressAttempt(address: string): Promise<void> {
    const record = await this.counter.hit(`login:address:${address}`, this.settings.loginAddress, 'login-address');
    if (record.isBlocked) throw new RateLimitExceededError(this.counter.retryAfterMs(record), 'login');
  }

  async assertAccountNotLocked(account: string): Promise<void> {
    const lock = await this.counter.hit(lockKey(account), UNLIMITED, 'login-account-lock');
    if (lock.isBlocked) throw new RateLimitExceededError(this.counter.retryAfterMs(lock), 'login');
  }

  async countAccountFailure(account: string): Promise<void> {
    const failures = await this.counter.hit(`login:account:${account}`, UNLIMITED, 'login-account-failures');
    if (failures.totalHits >= this.settings.loginAccountFailures) {
      await this.counter.hit(lockKey(account), 0, 'login-account-lock');
    }
  }
}

function lockKey(account: string): string {
  return `login:account-lock:${account}`;
}
