import { Module, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { FailureRecorder } from '../errors/failure-recorder';
import { AuditActionGuard } from './audit-action.guard';
import { AuditLog } from './audit-log.service';
import { AuditInterceptor } from './audit.interceptor';
import { RequestAuditor } from './request-auditor.service';

// The audit trail: rows written in the transaction of the change (AuditLog), the request's audit
// (RequestAuditor, the interceptor and the action guard), and the failure recorder the errors
// filter uses. `imports` must provide Db and TableNames (the DatabaseModule of the importer).
@Module({})
export class AuditModule {
  static register(imports: ModuleMetadata['imports']): DynamicModule {
    return {
      module: AuditModule,
      imports,
      providers: [AuditLog, RequestAuditor, AuditActionGuard, AuditInterceptor, { provide: FailureRecorder, useExisting: RequestAuditor }],
      exports: [AuditLog, RequestAuditor, AuditActionGuard, AuditInterceptor, FailureRecorder],
    };
  }
}
