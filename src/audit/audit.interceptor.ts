import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { AuditedRequest } from './audited-request';
import { RequestAuditor } from './request-auditor.service';

// Audits every @Audited route that succeeded; failures are audited by the errors filter, which
// knows the status they get (guard rejections never reach this interceptor at all).
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly auditor: RequestAuditor) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    if (!request.auditAction) return next.handle();
    return from(this.run(request, next));
  }

  private async run(request: AuditedRequest, next: CallHandler): Promise<unknown> {
    // A failure goes on to the errors filter, which audits it with the status it answers.
    const result = await lastValueFrom(next.handle(), { defaultValue: undefined });
    const createdId = (result as { id?: unknown } | undefined)?.id;
    await this.auditor.record(request, { createdId: typeof createdId === 'string' ? createdId : undefined });
    return result;
  }
}
