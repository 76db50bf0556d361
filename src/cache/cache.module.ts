import { Module, type DynamicModule } from '@nestjs/common';
import { CacheModule, type CacheOptions } from '@nestjs/cache-manager';
import KeyvRedis from '@keyv/redis';
import { KeyvCacheableMemory } from 'cacheable';
import type { SettingsSource } from '../common/settings-source';

// The cache's bounds, and the Redis shared by every instance (a bounded in-process LRU when absent).
export class CacheSettings {
  ttlMs!: number;
  timeoutMs!: number;
  maxEntries!: number;
  redis?: { url: string; keyPrefix: string };
}

type RedisConnection = Awaited<ReturnType<KeyvRedis<unknown>['getClient']>>;

// The Redis store of the cache, with two changes to how it holds its connection:
// - one connection attempt at a time, for every caller: calls made while it connects wait for
//   that attempt, and a client left open but not ready with no attempt under way (one that never
//   completed) is closed and connected again, instead of answering "The client is offline" for ever;
// - a graceful close waits for Redis to answer every pending command, so a hung Redis would hold
//   the shutdown forever; cache entries are disposable, so the socket is closed at once instead.
class CacheRedisStore<T> extends KeyvRedis<T> {
  private connecting?: Promise<RedisConnection>;

  override getClient(): Promise<RedisConnection> {
    const client = this.client as { isOpen?: boolean; isReady?: boolean };
    if (client.isReady) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      if (client.isOpen) await super.disconnect(true);
      return super.getClient();
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  override disconnect(): Promise<void> {
    return super.disconnect(true);
  }
}

// One cache store, configured by whoever imports it: Redis when given (shared by every instance),
// else a bounded in-process LRU. @nestjs/cache-manager disconnects the stores on shutdown.
@Module({})
export class CacheStoreModule {
  static register(settings: SettingsSource<CacheSettings>): DynamicModule {
    const settingsProvider = { provide: CacheSettings, inject: settings.inject ?? [], useFactory: settings.useFactory };
    return {
      module: CacheStoreModule,
      imports: [
        CacheModule.registerAsync({
          imports: settings.imports ?? [],
          inject: settings.inject ?? [],
          useFactory: async (...args: unknown[]): Promise<CacheOptions> => cacheOptions(await settings.useFactory(...(args as never[]))),
        }),
        ...(settings.imports ?? []),
      ],
      providers: [settingsProvider],
      exports: [CacheModule, CacheSettings],
    };
  }
}

function cacheOptions(config: CacheSettings): CacheOptions {
  // The Keyv that @nestjs/cache-manager wraps the store in takes this namespace and passes it
  // to the store (which would otherwise lose its own): the key prefix covers cache keys.
  const namespace = `${config.redis?.keyPrefix ?? ''}cache`;
  if (!config.redis) {
    return { ttl: config.ttlMs, namespace, stores: [new KeyvCacheableMemory({ lruSize: config.maxEntries })] };
  }
  // Without the offline queue, a write issued during an outage fails at once instead of
  // being replayed later over fresher data. The client's own reconnection is off: after a
  // partition it could wait forever on a connection that was accepted but never answered
  // (its connect timeout ends at TCP connect); the store instead reconnects on the next
  // call, time-boxed by connectionTimeout, and starts over after each timeout.
  const client = { url: config.redis.url, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: false as const } };
  // Failures throw, so that UserCache can tell a failed invalidation from a done one (and
  // retry it) and log the outage; it treats every failure as a miss.
  const store = new CacheRedisStore(client, {
    throwOnConnectError: true,
    throwOnErrors: true,
    connectionTimeout: config.timeoutMs * 10,
  });
  // An unhandled 'error' event would kill the process; the errors also reach UserCache.
  store.on('error', () => undefined);
  return { ttl: config.ttlMs, namespace, stores: [store] };
}
