import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuditActionGuard } from './audit/audit-action.guard';
import { AuthModule } from './users/auth/auth.module';
import { JwtAuthGuard } from './users/auth/jwt-auth.guard';
import { RolesGuard } from './users/auth/roles.guard';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { DatabaseModule } from './database/database.module';
import { ErrorsFilter } from './errors/errors.filter';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { SensitiveActionGuard } from './throttling/sensitive-action.guard';
import { UsersModule } from './users/users.module';
import { createValidationPipe } from './validation/validation.pipe';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [AppConfigModule.forRoot(config), LoggingModule, DatabaseModule, HealthModule, UsersModule, AuthModule],
      providers: [
        { provide: APP_FILTER, useClass: ErrorsFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        // Global guards run in this order: note the audit action (so rejections are audited),
        // authenticate (unless @Public), check @Roles, then count sensitive actions per user.
        { provide: APP_GUARD, useExisting: AuditActionGuard },
        { provide: APP_GUARD, useExisting: JwtAuthGuard },
        { provide: APP_GUARD, useExisting: RolesGuard },
        { provide: APP_GUARD, useExisting: SensitiveActionGuard },
      ],
    };
  }
}
