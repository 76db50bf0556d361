import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AUDIT_ACTION } from './audit.decorators';
import type { AuditedRequest } from './audited-request';

// Runs first among the global guards and notes the route's audit action on the request, so
// that a rejection by a later guard (401, 403, 429), which never reaches the interceptor, can
// still be audited under the route's name by the errors filter.
@Injectable()
export class AuditActionGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const action = this.reflector.get<string | undefined>(AUDIT_ACTION, context.getHandler());
    if (action) context.switchToHttp().getRequest<AuditedRequest>().auditAction = action;
    return true;
  }
}
