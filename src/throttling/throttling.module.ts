import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';
import type { SettingsSource } from '../common/settings-source';
import { RateCounter } from './rate-counter.service';
import { SensitiveActionGuard } from './sensitive-action.guard';
import { SensitiveActions } from './sensitive-actions.service';
import { ThrottleSettings } from './throttle.settings';

export const THROTTLER_REDIS = Symbol('THROTTLER_REDIS');
const QUIT_TIMEOUT_MS = 1000;
const HANDSHAKE_TIMEOUT_MS = 2000;

// Closes the ioredis client that the Redis storage uses; it is not a Nest provider of its own, so
// without this the process (and Jest) would hang on shutdown.
@Injectable()
class ThrottlerRedisCloser implements OnApplicationShutdown {
  constructor(@Inject(THROTTLER_REDIS) private readonly redis: Redis | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    const redis = this.redis;
    if (!redis || redis.status === 'end') return;
    // QUIT waits for Redis to answer: a hung server must not hold the shutdown, so it gets a
    // moment and then the socket is closed regardless.
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)));
    if (redis.status === 'ready') await Promise.race([redis.quit().catch(() => undefined), patience]);
    clearTimeout(timer);
    redis.disconnect();
  }
}

// ioredis's connectTimeout ends at TCP connect. Behind a partition that accepts connections but
// never answers, the client would wait for its ready check forever (and limits stay per instance
// after Redis is back): a connection not ready within HANDSHAKE_TIMEOUT_MS is dropped and retried.
function dropStalledHandshakes(redis: Redis): void {
  let timer: NodeJS.Timeout | undefined;
  redis.on('connect', () => {
    clearTimeout(timer);
    timer = setTimeout(() => redis.status === 'connect' && redis.disconnect(true), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
  });
  redis.on('ready', () => clearTimeout(timer));
  redis.on('end', () => clearTimeout(timer));
}

// Rate limits: where counters live (in this process by default, in Redis when configured so that
// every app instance shares one limit; RateCounter falls back to this process while Redis is
// down), the sensitive-action limits and their guard. Configured by whoever imports it.
@Module({})
export class ThrottlingModule {
  static register(settings: SettingsSource<ThrottleSettings>): DynamicModule {
    return {
      module: ThrottlingModule,
      imports: settings.imports ?? [],
      providers: [
        { provide: ThrottleSettings, inject: settings.inject ?? [], useFactory: settings.useFactory },
        {
          provide: THROTTLER_REDIS,
          inject: [ThrottleSettings],
          useFactory: ({ redis: config }: ThrottleSettings): Redis | undefined => {
            if (!config) return undefined;
            const redis = new Redis(config.url, {
              keyPrefix: `${config.keyPrefix}throttle:`,
              maxRetriesPerRequest: 1,
              enableOfflineQueue: false,
              connectTimeout: 2000,
            });
            // An unhandled 'error' event would kill the process. Each reconnect attempt emits one; the
            // outage itself is logged by RateCounter, once per state change.
            redis.on('error', () => undefined);
            dropStalledHandshakes(redis);
            return redis;
          },
        },
        {
          provide: ThrottlerStorage,
          inject: [THROTTLER_REDIS],
          useFactory: (redis: Redis | undefined) => (redis ? new ThrottlerStorageRedisService(redis) : new ThrottlerStorageService()),
        },
        ThrottlerRedisCloser,
        RateCounter,
        SensitiveActions,
        SensitiveActionGuard,
      ],
      exports: [ThrottleSettings, ThrottlerStorage, RateCounter, SensitiveActions, SensitiveActionGuard],
    };
  }
}
