import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthenticatedError } from '../../errors/domain-error';
import { isPublicRoute } from './public.decorator';

// The authentication of the module's routes: this module's JwtAuthGuard, or the host's
// `authGuard` option. A guard that returns false is answered 401, like a missing token.
export const AUTHENTICATION = Symbol('USERS_AUTHENTICATION');

@Injectable()
export class UsersAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTHENTICATION) private readonly authentication: CanActivate,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    const allowed = await this.authentication.canActivate(context);
    if (allowed !== true) throw new UnauthenticatedError('Authentication required');
    return true;
  }
}
