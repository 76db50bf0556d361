import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { withTimeout } from '../common/with-timeout';
import { AppConfig } from '../config/app-config';

export type RateRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

// A hung storage must not hang the request it guards.
const STORAGE_TIMEOUT_MS = 1000;

// Counts hits per key within THROTTLE_WINDOW_MS in the throttler's storage (in memory, or Redis
// shared by every instance). It fails open: when the storage is down or hung the hit is allowed
// with a warning. Every limited action already needs a valid caller (or costs an argon2
// verification, for login), so a limit is a brake on abuse, not access control; failing closed
// would turn a Redis outage into an outage of logins, password changes and erasure requests.
@Injectable()
export class RateCounter {
  private readonly logger = new Logger(RateCounter.name);

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  async hit(key: string, limit: number, name: string): Promise<RateRecord | undefined> {
    const window = this.config.throttleWindowMs;
    try {
      return await withTimeout(this.storage.increment(key, window, limit, window, name), STORAGE_TIMEOUT_MS, 'rate-limit storage');
    } catch (error) {
      this.logger.warn(`rate-limit storage unavailable, allowing ${name}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  // The storages report whole seconds; never promise more than one window.
  retryAfterMs(record: RateRecord): number {
    return Math.min(this.config.throttleWindowMs, Math.max(1, record.timeToBlockExpire) * 1000);
  }
}
