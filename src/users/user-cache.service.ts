import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CACHE_MANAGER, type Cache } from '@nestjs/cache-manager';
import { OutageLog } from '../common/outage-log';
import { withTimeout } from '../common/with-timeout';
import { CacheSettings } from '../cache/cache.module';
import { withoutTokenEpoch } from './user-row';
import type { User, UserAuthState } from './user.model';

type CachedUser = Omit<UserAuthState, 'deletedAt' | 'createdAt' | 'updatedAt' | 'lastLoginAt'> & {
  deletedAt: string | null;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
};

const key = (id: string) => `user:${id}`;
// A failed invalidation is retried after FIRST, doubling up to MAX while it keeps failing.
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2000;
// Keys per delete call. @keyv/redis sends a call as one MULTI of UNLINKs, one round trip that
// takes a few ms for 500 keys; 10,000 keys in one call outlasted the time box against a healthy
// Redis, so a bulk write was taken for an outage and its keys were never confirmed.
const DELETE_CHUNK = 500;

// Cache-aside by user id. The cache is an optimization, never the source of truth: every call is
// time-boxed and any failure is a miss, so a stopped or hung Redis slows reads but breaks nothing.
// An invalidation is the exception: an entry left behind would serve a stale user, and keep a
// retired token working, until its TTL, so a failed one is retried until it succeeds.
@Injectable()
export class UserCache implements OnModuleDestroy {
  private readonly logger = new Logger(UserCache.name);
  private readonly outage = new OutageLog(this.logger, 'user cache');
  private deletions = 0;
  // Keys whose invalidation Redis has not confirmed, with the invalidation count when last asked
  // for, so that a retry that was already under way does not settle a newer request.
  private readonly pending = new Map<string, number>();
  private retryDelayMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private retrying = false;
  private closing = false;

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly config: CacheSettings,
  ) {
    // @nestjs/cache-manager wraps each store in a Keyv that swallows the store's errors: a failed
    // delete would pass for a done one. They must reach timeBoxed.
    for (const store of cache.stores) store.throwOnErrors = true;
  }

  // An entry whose invalidation is pending may be stale: this process reads through until Redis
  // confirms it gone, and does not write it back meanwhile.
  async get(id: string): Promise<User | undefined> {
    const state = await this.getAuthState(id);
    return state && withoutTokenEpoch(state);
  }

  // The entry with the token epoch, for the auth guard. An entry written before the epoch
  // existed (a rolling deploy sharing Redis) is a miss.
  async getAuthState(id: string): Promise<UserAuthState | undefined> {
    if (this.pending.has(key(id))) return undefined;
    const cached = await this.timeBoxed('get', () => this.cache.get<CachedUser>(key(id)));
    return cached && typeof cached.tokenEpoch === 'string' ? fromCache(cached) : undefined;
  }

  async set(user: UserAuthState): Promise<void> {
    if (this.pending.has(key(user.id))) return;
    await this.timeBoxed('set', () => this.cache.set(key(user.id), toCache(user), this.config.ttlMs));
  }

  // A mark to pass to `invalidatedSince`. With the in-process cache, this process makes every
  // invalidation, so an unchanged mark proves that none happened; a shared (Redis) cache is
  // invalidated by other instances too, so there it proves nothing.
  invalidationMark(): number {
    return this.deletions;
  }

  mayHaveBeenInvalidatedSince(mark: number): boolean {
    return this.config.redis !== undefined || this.deletions !== mark;
  }

  async delete(ids: Iterable<string>): Promise<void> {
    const keys = [...new Set(ids)].map(key);
    if (keys.length === 0) return;
    const generation = ++this.deletions;
    const unconfirmed = await this.deleteInChunks(keys.map((k) => [k, generation]));
    if (unconfirmed.length === 0) return;
    // A newer invalidation of the same key, failed meanwhile, stays the one to confirm.
    for (const [k] of unconfirmed) if ((this.pending.get(k) ?? 0) < generation) this.pending.set(k, generation);
    this.scheduleRetry();
  }

  // Pending retries end with the app: after shutdown the store is closed, and touching it again
  // would reopen its connection and keep the process alive. Entries still pending then expire
  // within the TTL.
  onModuleDestroy(): void {
    this.closing = true;
    clearTimeout(this.retryTimer);
    if (this.pending.size > 0) {
      this.logger.error(`${this.pending.size} cache entries could not be invalidated; they expire within ${this.config.ttlMs} ms`);
    }
  }

  // Deletes a chunk at a time, each time-boxed on its own, and settles each chunk's keys as Redis
  // confirms it (unless a newer invalidation is pending for a key). The first failure ends the
  // attempt: Redis is then most likely down, and each further chunk would wait out its time box.
  // Resolves with the keys not confirmed, with the invalidation count each was asked for under.
  private async deleteInChunks(attempt: [string, number][]): Promise<[string, number][]> {
    for (let start = 0; start < attempt.length; start += DELETE_CHUNK) {
      const chunk = attempt.slice(start, start + DELETE_CHUNK);
      if (this.closing || !(await this.deleted(chunk.map(([k]) => k)))) return attempt.slice(start);
      for (const [k, generation] of chunk) if ((this.pending.get(k) ?? Infinity) <= generation) this.pending.delete(k);
    }
    return [];
  }

  // One round trip per store: cache-manager's mdel would send one DEL per key.
  private async deleted(keys: string[]): Promise<boolean> {
    const done = await this.timeBoxed('delete', async () => {
      await Promise.all(this.cache.stores.map((store) => store.deleteMany(keys)));
      return true;
    });
    return done === true;
  }

  // One retry loop for every pending key, however many invalidations failed, in chunks as well.
  private scheduleRetry(): void {
    if (this.closing || this.retrying || this.pending.size === 0) return;
    this.retrying = true;
    this.retryTimer = setTimeout(() => void this.retry(), this.retryDelayMs);
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    const done = (await this.deleteInChunks([...this.pending])).length === 0;
    this.retryDelayMs = done ? FIRST_RETRY_MS : Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
    this.retrying = false;
    this.scheduleRetry();
  }

  // A slow or failed cache call is a miss; an outage is logged once, then periodically. A get
  // proves nothing about recovery: cache-manager answers a failed one as a miss.
  private async timeBoxed<T>(operation: 'get' | 'set' | 'delete', call: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await withTimeout(call(), this.config.timeoutMs, `cache ${operation}`);
      if (operation !== 'get') this.outage.succeeded();
      return result;
    } catch (error) {
      this.outage.failed(error, 'reading through to PostgreSQL; failed invalidations are retried');
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
