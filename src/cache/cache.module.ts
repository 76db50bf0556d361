import { Logger, Module } from '@nestjs/common';
import { CacheModule, type CacheOptions } from '@nestjs/cache-manager';
import KeyvRedis from '@keyv/redis';
import { KeyvCacheableMemory } from 'cacheable';
import { AppConfig } from '../config/app-config';
import { UserCache } from './user-cache.service';

// A graceful close waits for Redis to answer every pending command, so a hung Redis would hold
// the shutdown forever; cache entries are disposable, so the socket is closed at once instead.
class PromptlyClosedKeyvRedis<T> extends KeyvRedis<T> {
  override disconnect(): Promise<void> {
    return super.disconnect(true);
  }
}

// One cache for the whole app: Redis when REDIS_URL is set (shared by every instance), else a
// bounded in-process LRU. @nestjs/cache-manager disconnects the stores on shutdown.
@Module({
  imports: [
    CacheModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig): CacheOptions => {
        if (!config.redisUrl) {
          return { ttl: config.cacheTtlMs, stores: [new KeyvCacheableMemory({ lruSize: config.cacheMaxEntries })] };
        }
        // Without the offline queue, a write issued during an outage fails at once instead of
        // being replayed later over fresher data.
        const client = { url: config.redisUrl, disableOfflineQueue: true, socket: { connectTimeout: 2000 } };
        const store = new PromptlyClosedKeyvRedis(client, {
          namespace: `${config.redisKeyPrefix}cache`,
          throwOnConnectError: false,
          throwOnErrors: false,
          connectionTimeout: config.cacheTimeoutMs * 10,
        });
        // An unhandled 'error' event would kill the process; a cache outage is only a miss.
        const logger = new Logger('Cache');
        store.on('error', (error: unknown) => logger.warn(`redis cache error: ${String(error)}`));
        return { ttl: config.cacheTtlMs, stores: [store] };
      },
    }),
  ],
  providers: [UserCache],
  exports: [UserCache],
})
export class UserCacheModule {}
