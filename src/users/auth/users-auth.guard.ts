import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { isUuid } from '../../common/paging';
import { UnauthenticatedError } from '../../errors/domain-error';
import type { AuthenticatedRequest } from './authenticated-user';
import { isPublicRoute } from './public.decorator';

// The authentication of the module's routes: this module's JwtAuthGuard, or the host's
// `authGuard` option. A guard that refuses (anything but true, as a value, promise or
// observable) is answered 401, like a missing token.
export const AUTHENTICATION = Symbol('USERS_AUTHENTICATION');

@Injectable()
export class UsersAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTHENTICATION) private readonly authentication: CanActivate,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    const verdict = this.authentication.canActivate(context);
    const allowed = isObservable(verdict) ? await lastValueFrom(verdict, { defaultValue: false }) : await verdict;
    if (allowed !== true) throw new UnauthenticatedError('Authentication required');
    // A host's guard may hand over anything: the roles check and the audit need a user of this
    // module (a UUID) and a list of roles; a string of roles would pass `includes` by substring.
    const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user as unknown;
    if (!isCaller(user)) throw new UnauthenticatedError('The authenticated caller is not a user of this module');
    return true;
  }
}

function isCaller(user: unknown): boolean {
  const { id, roles } = (user ?? {}) as { id?: unknown; roles?: unknown };
  return isUuid(id) && Array.isArray(roles) && roles.every((role) => typeof role === 'string');
}
