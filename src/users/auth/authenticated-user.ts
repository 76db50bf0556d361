import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { HttpRequest } from '../../common/http-exchange';

// What the auth guard attaches to a request once the bearer token and the user behind it check out.
export interface AuthenticatedUser {
  id: string;
  roles: string[];
  version: number;
}

export type AuthenticatedRequest = HttpRequest & { user?: AuthenticatedUser };

// The caller of a route guarded by JwtAuthGuard; only used on routes that are not @Public().
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser => {
  const user = context.switchToHttp().getRequest<AuthenticatedRequest>().user;
  if (!user) throw new Error('CurrentUser used on a route the auth guard did not authenticate');
  return user;
});
