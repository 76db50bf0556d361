import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { UnauthenticatedError } from '../../errors/domain-error';
import { UsersRepository } from '../users.repository';
import { AccessTokens } from './access-tokens.service';
import type { AuthenticatedRequest } from './authenticated-user';
import { isPublicRoute } from './public.decorator';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

// Global guard: every route needs a valid bearer token unless it is @Public(). The token alone is
// not enough: the user must still exist, be active, and have the version and token epoch the
// token was issued for. That read is served from the user cache, which every write invalidates.
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: AccessTokens,
    private readonly users: UsersRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (!token) throw new UnauthenticatedError('A bearer token is required');
    const claims = await this.tokens.verify(token);
    const user = await this.users.getUserAuthState(claims.sub);
    if (!user || !user.isActive || user.isDeleted || user.version !== claims.ver || user.tokenEpoch !== claims.tep) {
      throw new UnauthenticatedError('Invalid or expired token');
    }
    request.user = { id: user.id, roles: user.roles, version: user.version };
    return true;
  }
}
