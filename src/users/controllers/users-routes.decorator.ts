import { applyDecorators, UseFilters, UseGuards, UseInterceptors, UsePipes } from '@nestjs/common';
import { AuditActionGuard } from '../../audit/audit-action.guard';
import { AuditInterceptor } from '../../audit/audit.interceptor';
import { BodyLimitedRoutes } from '../../common/body-limits';
import { ErrorsFilter } from '../../errors/errors.filter';
import { SensitiveActionGuard } from '../../throttling/sensitive-action.guard';
import { createValidationPipe } from '../../validation/validation.pipe';
import { RolesGuard } from '../auth/roles.guard';
import { UsersAuthGuard } from '../auth/users-auth.guard';

// Everything a route of this module needs, declared on its controller so that it holds in any
// host, whatever the host registers globally (or not): the error body, validation, then the
// guards in order (note the audit action so that rejections are audited, authenticate, check the
// route's roles, count sensitive actions), the audit of the change, and the mark by which the
// module's Fastify hooks find its routes (src/http/fastify-routes.ts).
export const USERS_ROUTES_OWNER = 'nest-users';

export const UsersRoutes = () =>
  applyDecorators(
    BodyLimitedRoutes(USERS_ROUTES_OWNER),
    UseFilters(ErrorsFilter),
    UsePipes(createValidationPipe()),
    UseGuards(AuditActionGuard, UsersAuthGuard, RolesGuard, SensitiveActionGuard),
    UseInterceptors(AuditInterceptor),
  );
