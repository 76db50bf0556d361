import { Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';

export const THROTTLER_REDIS = Symbol('THROTTLER_REDIS');

// Closes the ioredis client that the Redis storage uses; it is not a Nest provider of its own, so
// without this the process (and Jest) would hang on shutdown.
@Injectable()
class ThrottlerRedisCloser implements OnApplicationShutdown {
  constructor(@Inject(THROTTLER_REDIS) private readonly redis: Redis | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis && this.redis.status !== 'end') await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}

// Where rate-limit counters live: in this process by default, in Redis when REDIS_URL is set so
// that every app instance shares one limit.
@Module({
  providers: [
    {
      provide: THROTTLER_REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig): Redis | undefined => {
        if (!config.redisUrl) return undefined;
        const redis = new Redis(config.redisUrl, {
          keyPrefix: `${config.redisKeyPrefix}throttle:`,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 2000,
        });
        const logger = new Logger('ThrottlerStorage');
        redis.on('error', (error: Error) => logger.warn(`redis throttler storage error: ${error.message}`));
        return redis;
      },
    },
    {
      provide: ThrottlerStorage,
      inject: [THROTTLER_REDIS],
      useFactory: (redis: Redis | undefined) => (redis ? new ThrottlerStorageRedisService(redis) : new ThrottlerStorageService()),
    },
    ThrottlerRedisCloser,
  ],
  exports: [ThrottlerStorage],
})
export class ThrottlerStorageModule {}
