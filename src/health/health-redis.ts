import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { withTimeout } from '../common/with-timeout';

const PING_TIMEOUT_MS = 1000;

// The readiness check's own connection to REDIS_URL: the cache and the rate limits keep theirs
// inside UsersModule, which the app's health must not reach into.
@Injectable()
export class HealthRedis implements OnApplicationShutdown {
  private readonly redis: Redis | undefined;

  constructor(config: AppConfig) {
    if (!config.redisUrl) return;
    // A PING queued while Redis is down is failed after one reconnect attempt, so probes made
    // during an outage never pile up; the timeout below answers the probe before that.
    this.redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: PING_TIMEOUT_MS });
    // An unhandled 'error' event would kill the process; the probe reports the outage.
    this.redis.on('error', () => undefined);
  }

  get configured(): boolean {
    return this.redis !== undefined;
  }

  async ping(): Promise<void> {
    if (this.redis) await withTimeout(this.redis.ping(), PING_TIMEOUT_MS, 'Redis PING');
  }

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}
