import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { AuditActionGuard } from '../audit/audit-action.guard';
import { AuditLog } from '../audit/audit-log.service';
import { AuditInterceptor } from '../audit/audit.interceptor';
import { RequestAuditor } from '../audit/request-auditor.service';
import { UserCacheModule } from '../cache/cache.module';
import { AppConfig } from '../config/app-config';
import { configureExpressRoutes } from '../http/express-routes';
import { SensitiveActionGuard } from '../throttling/sensitive-action.guard';
import { SensitiveActions } from '../throttling/sensitive-actions.service';
import { ThrottlerStorageModule } from '../throttling/throttler-storage.module';
import { UsersBulkController } from './controllers/users-bulk.controller';
import { UsersQueryController } from './controllers/users-query.controller';
import { UsersController } from './controllers/users.controller';
import { UserBulk } from './repository/user-bulk';
import { UserPrivacy } from './repository/user-privacy';
import { UserReads } from './repository/user-reads';
import { UserTransfer } from './repository/user-transfer';
import { UserWrites } from './repository/user-writes';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

// The users feature: the repository (exported for sibling modules), its REST controllers, and
// the cross-cutting pieces it wires: cache-aside, the audit interceptor and the guards of
// sensitive actions. The guards are exported so that the app orders all global guards in one
// place: the audit-action guard first, the sensitive-action guard after authentication.
const CONTROLLERS = [UsersQueryController, UsersBulkController, UsersController];

@Module({
  imports: [UserCacheModule, ThrottlerStorageModule],
  controllers: CONTROLLERS,
  providers: [
    UserReads,
    UserWrites,
    UserBulk,
    UserTransfer,
    UserPrivacy,
    AuditLog,
    SensitiveActions,
    UsersRepository,
    UsersService,
    RequestAuditor,
    AuditActionGuard,
    SensitiveActionGuard,
    AuditInterceptor,
    { provide: APP_INTERCEPTOR, useExisting: AuditInterceptor },
  ],
  exports: [UsersRepository, RequestAuditor, AuditActionGuard, SensitiveActionGuard],
})
export class UsersModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

  // Under Express the module reads its routes' bodies itself (README "Express or Fastify").
  configure(consumer: MiddlewareConsumer): void {
    configureExpressRoutes(consumer, this.adapterHost, CONTROLLERS, this.config.bodyLimitBytes);
  }
}
