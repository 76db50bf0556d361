import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRequest } from '../common/http-exchange';
import type { SensitiveAction } from './throttle.settings';
import { SensitiveActions } from './sensitive-actions.service';
import { THROTTLE_ACTION } from './throttling.decorators';

// Actions that protect the target account are counted per target (an admin can serve many
// users, but nobody can hammer one account); the others are counted per caller.
const COUNTED_PER_TARGET: ReadonlySet<SensitiveAction> = new Set(['password-change', 'anonymize']);

// The caller as the authentication guard that ran before left it (any guard that sets user.id).
type GuardedRequest = HttpRequest & { user?: { id: string }; params: Record<string, string | undefined> };

// The throttler guard for sensitive routes (@SensitiveRoute). It runs after authentication, so
// the key is the user id plus the action; counters live in the throttler storage (Redis when
// configured), shared with UsersRepository.sensitiveUserAction. Unmarked routes pass untouched.
@Injectable()
export class SensitiveActionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: SensitiveActions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const action = this.reflector.getAllAndOverride<SensitiveAction | undefined>(THROTTLE_ACTION, [context.getHandler(), context.getClass()]);
    if (!action) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const target = COUNTED_PER_TARGET.has(action) ? request.params.id?.toLowerCase() : undefined;
    const subject = target ?? request.user?.id ?? `ip:${request.ip}`;
    await this.limits.sensitiveUserAction(subject, action);
    return true;
  }
}
