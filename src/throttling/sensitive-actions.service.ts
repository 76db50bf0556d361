import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { AppConfig, SENSITIVE_ACTIONS, type SensitiveAction } from '../config/app-config';
import { withTimeout } from '../common/with-timeout';
import { RateLimitExceededError } from '../errors/domain-error';
import { UserValidationError } from '../users/users.errors';

type StorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

// A hung storage must not hang the action it guards.
const STORAGE_TIMEOUT_MS = 1000;

export function sensitiveActionKey(action: SensitiveAction, userId: string): string {
  return `sensitive:${action}:${userId}`;
}

// Per-user, per-action limits kept in the throttler's storage, so every app instance sharing
// Redis counts against one budget. Limits and the window come from THROTTLE_SENSITIVE and
// THROTTLE_WINDOW_MS.
@Injectable()
export class SensitiveActions {
  private readonly logger = new Logger(SensitiveActions.name);

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  async sensitiveUserAction(userId: string, action: string): Promise<void> {
    if (!isSensitiveAction(action)) throw UserValidationError.field('action', `must be one of ${SENSITIVE_ACTIONS.join(', ')}`);
    if (typeof userId !== 'string' || userId === '') throw UserValidationError.field('userId', 'must be a non-empty string');
    const window = this.config.throttleWindowMs;
    const record = await this.count(sensitiveActionKey(action, userId), action, window);
    if (record?.isBlocked) {
      // The storages report whole seconds; never promise more than one window.
      const retryAfterMs = Math.min(window, Math.max(1, record.timeToBlockExpire * 1000));
      throw new RateLimitExceededError(retryAfterMs, action);
    }
  }

  // Fails open: when the storage (Redis) is down or hung, the action proceeds with a warning. These
  // actions already require an authenticated, authorized caller, so the limit is a brake on abuse,
  // not the access control; failing closed would turn a Redis outage into an outage of password
  // changes and erasure requests for everyone.
  private async count(key: string, action: SensitiveAction, window: number): Promise<StorageRecord | undefined> {
    try {
      const limit = this.config.throttleSensitive[action];
      return await withTimeout(this.storage.increment(key, window, limit, window, action), STORAGE_TIMEOUT_MS, 'rate-limit storage');
    } catch (error) {
      this.logger.warn(`rate-limit storage unavailable, allowing ${action}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}

function isSensitiveAction(action: unknown): action is SensitiveAction {
  return (SENSITIVE_ACTIONS as readonly unknown[]).includes(action);
}
