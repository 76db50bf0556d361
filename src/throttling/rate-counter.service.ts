import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { OutageLog } from '../common/outage-log';
import { withTimeout } from '../common/with-timeout';
import { ThrottleSettings } from './throttle.settings';

export type RateRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

// A hung storage must not hang the request it guards.
const STORAGE_TIMEOUT_MS = 1000;

// Counts hits per key within the throttle window in the throttler's storage (in memory, or Redis
// shared by every instance). When that storage is down or hung, the hit is counted in this
// process instead: limits then hold per instance rather than not at all. Failing closed would
// turn a Redis outage into an outage of logins, password changes and erasure requests; every
// limited action already needs a valid caller (or costs an argon2 verification, for login), so a
// per-instance limit for the length of an outage is an acceptable brake on abuse.
@Injectable()
export class RateCounter implements OnApplicationShutdown {
  private readonly outage = new OutageLog(new Logger(RateCounter.name), 'rate-limit storage');
  private readonly fallback = new ThrottlerStorageService();

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly settings: ThrottleSettings,
  ) {}

  async hit(key: string, limit: number, name: string): Promise<RateRecord> {
    const window = this.settings.windowMs;
    try {
      const record = await withTimeout(this.storage.increment(key, window, limit, window, name), STORAGE_TIMEOUT_MS, 'rate-limit storage');
      this.outage.succeeded();
      return record;
    } catch (error) {
      this.outage.failed(error, 'counting in this process (limits hold per instance)');
      return this.fallback.increment(key, window, limit, window, name);
    }
  }

  // The storages report whole seconds; never promise more than one window.
  retryAfterMs(record: RateRecord): number {
    return Math.min(this.settings.windowMs, Math.max(1, record.timeToBlockExpire) * 1000);
  }

  onApplicationShutdown(): void {
    this.fallback.onApplicationShutdown();
  }
}
