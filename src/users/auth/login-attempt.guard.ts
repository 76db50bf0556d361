import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { HttpRequest } from '../../common/http-exchange';
import { LoginLimiter } from './login-limiter.service';

// Counts a login attempt against the client address before the body is validated: guards run
// before pipes, so a malformed body spends the budget too and cannot be used to probe for free.
@Injectable()
export class LoginAttemptGuard implements CanActivate {
  constructor(private readonly limiter: LoginLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // request.ip honours TRUST_PROXY only: a client cannot pick its address with X-Forwarded-For.
    await this.limiter.countAddressAttempt(context.switchToHttp().getRequest<HttpRequest>().ip ?? '');
    return true;
  }
}
