import { Injectable } from '@nestjs/common';
import { RateLimitExceededError, ValidationFailedError } from '../errors/domain-error';
import { RateCounter } from './rate-counter.service';
import { SENSITIVE_ACTIONS, ThrottleSettings, type SensitiveAction } from './throttle.settings';

export function sensitiveActionKey(action: SensitiveAction, userId: string): string {
  return `sensitive:${action}:${userId}`;
}

// Per-user, per-action limits kept in the throttler's storage, so every app instance sharing
// Redis counts against one budget (limits and window: ThrottleSettings).
@Injectable()
export class SensitiveActions {
  constructor(
    private readonly counter: RateCounter,
    private readonly settings: ThrottleSettings,
  ) {}

  async sensitiveUserAction(userId: string, action: string): Promise<void> {
    if (!isSensitiveAction(action)) throw ValidationFailedError.field('action', `must be one of ${SENSITIVE_ACTIONS.join(', ')}`);
    if (typeof userId !== 'string' || userId === '') throw ValidationFailedError.field('userId', 'must be a non-empty string');
    const record = await this.counter.hit(sensitiveActionKey(action, userId), this.settings.sensitive[action], action);
    if (record.isBlocked) throw new RateLimitExceededError(this.counter.retryAfterMs(record), action);
  }
}

function isSensitiveAction(action: unknown): action is SensitiveAction {
  return (SENSITIVE_ACTIONS as readonly unknown[]).includes(action);
}
