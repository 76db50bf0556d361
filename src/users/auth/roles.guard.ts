import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '../../errors/domain-error';
import type { AuthenticatedRequest } from './authenticated-user';
import { isPublicRoute } from './public.decorator';
import { ROLES_KEY } from './roles.decorator';

// Global guard, registered after JwtAuthGuard so that request.user is set. The caller needs one
// of the roles the route declares; a route that declares nothing is refused rather than open.
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (isPublicRoute(this.reflector, context)) return true;
    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (required === undefined) throw new ForbiddenError('This route declares no roles');
    const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!user) throw new UnauthenticatedError();
    if (required.length > 0 && !required.some((role) => user.roles.includes(role))) {
      throw new ForbiddenError(`Requires role ${required.join(' or ')}`);
    }
    return true;
  }
}
