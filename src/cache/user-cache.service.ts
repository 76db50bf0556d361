import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { withTimeout } from '../common/with-timeout';
import { AppConfig } from '../config/app-config';
import { withoutTokenEpoch } from '../users/user-row';
import type { User, UserAuthState } from '../users/user.model';

type CachedUser = Omit<UserAuthState, 'deletedAt' | 'createdAt' | 'updatedAt' | 'lastLoginAt'> & {
  deletedAt: string | null;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
};

const key = (id: string) => `user:${id}`;
const DELETE_RETRY_DELAYS_MS = [250, 1000, 4000];

// Cache-aside by user id. The cache is an optimization, never the source of truth: every call is
// time-boxed and any failure is a miss, so a stopped or hung Redis slows reads but breaks nothing.
@Injectable()
export class UserCache implements OnModuleDestroy {
  private readonly logger = new Logger(UserCache.name);
  private deletions = 0;
  private readonly retries = new Set<NodeJS.Timeout>();
  private closing = false;

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly config: AppConfig,
  ) {}

  async get(id: string): Promise<User | undefined> {
    const state = await this.getAuthState(id);
    return state && withoutTokenEpoch(state);
  }

  // The entry with the token epoch, for the auth guard. An entry written before the epoch
  // existed (a rolling deploy sharing Redis) is a miss.
  async getAuthState(id: string): Promise<UserAuthState | undefined> {
    const cached = await this.timeBoxed('get', () => this.cache.get<CachedUser>(key(id)));
    return cached && typeof cached.tokenEpoch === 'string' ? fromCache(cached) : undefined;
  }

  async set(user: UserAuthState): Promise<void> {
    await this.timeBoxed('set', () => this.cache.set(key(user.id), toCache(user), this.config.cacheTtlMs));
  }

  // A mark to pass to `invalidatedSince`. With the in-process cache, this process makes every
  // invalidation, so an unchanged mark proves that none happened; a shared (Redis) cache is
  // invalidated by other instances too, so there it proves nothing.
  invalidationMark(): number {
    return this.deletions;
  }

  mayHaveBeenInvalidatedSince(mark: number): boolean {
    return this.config.redisUrl !== undefined || this.deletions !== mark;
  }

  // An invalidation that fails (a Redis blip) is retried in the background: an entry left behind
  // would serve a stale user, and keep a retired token working, until its TTL.
  async delete(ids: Iterable<string>): Promise<void> {
    const keys = [...new Set(ids)].map(key);
    if (keys.length === 0) return;
    this.deletions++;
    if (await this.deleted(keys)) return;
    this.retryDelete(keys, 0);
  }

  private async deleted(keys: string[]): Promise<boolean> {
    const done = await this.timeBoxed('delete', async () => {
      await this.cache.mdel(keys);
      return true;
    });
    return done === true;
  }

  // Pending retries end with the app: after shutdown the store is closed, and touching it again
  // would reopen its connection and keep the process alive.
  onModuleDestroy(): void {
    this.closing = true;
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
  }

  private retryDelete(keys: string[], attempt: number): void {
    if (this.closing) return;
    if (attempt >= DELETE_RETRY_DELAYS_MS.length) {
      this.logger.error(`cache entries ${keys.join(', ')} could not be invalidated; they expire within ${this.config.cacheTtlMs} ms`);
      return;
    }
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      void this.deleted(keys).then((done) => done || this.retryDelete(keys, attempt + 1));
    }, DELETE_RETRY_DELAYS_MS[attempt]);
    timer.unref();
    this.retries.add(timer);
  }

  // A slow or failed cache call is a miss, logged once per call.
  private async timeBoxed<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withTimeout(call(), this.config.cacheTimeoutMs, `cache ${operation}`);
    } catch (error) {
      this.logger.warn(`cache ${operation} failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}

function toCache(user: UserAuthState): CachedUser {
  return {
    ...user,
    deletedAt: user.deletedAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

function fromCache(cached: CachedUser): UserAuthState {
  return {
    ...cached,
    deletedAt: cached.deletedAt === null ? null : new Date(cached.deletedAt),
    createdAt: new Date(cached.createdAt),
    updatedAt: new Date(cached.updatedAt),
    lastLoginAt: cached.lastLoginAt === null ? null : new Date(cached.lastLoginAt),
  };
}
