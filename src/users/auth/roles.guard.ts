import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '../../errors/domain-error';
import type { AuthenticatedRequest } from './authenticated-user';
import { UsersSettings } from '../users.options';
import { isPublicRoute } from './public.decorator';
import { ADMIN, ROLES_KEY } from './roles.decorator';

// Runs after authentication, so that request.user is set. The caller needs one of the roles the
// route declares, where 'admin' stands for the module's adminRoles option; a route that declares
// nothing is refused rather than open.
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly settings: UsersSettings,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (isPublicRoute(this.reflector, context)) return true;
    const required = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (required === undefined) throw new ForbiddenError('This route declares no roles');
    const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!user) throw new UnauthenticatedError();
    const accepted = required.flatMap((role) => (role === ADMIN ? this.settings.adminRoles : [role]));
    if (accepted.length > 0 && !accepted.some((role) => user.roles.includes(role))) {
      throw new ForbiddenError(`Requires role ${accepted.join(' or ')}`);
    }
    return true;
  }
}
