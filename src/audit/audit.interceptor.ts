import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ClsService } from 'nestjs-cls';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { requestIdOf } from '../common/http-exchange';
import { AUDIT_ACTOR_ID, AUDIT_REQUEST, AUDIT_REQUEST_ID } from './audit-log.service';
import { AUDIT_BY_HANDLER } from './audit.decorators';
import type { AuditedRequest } from './audited-request';
import { RequestAuditor } from './request-auditor.service';

// Audits every @Audited route that succeeded, in the same transaction as its change: the handler
// and the success row commit together or not at all (RequestAuditor.commitWith). An
// @AuditedByHandler handler calls commitWith itself, after its slow work. A throw rolls both back;
// the errors filter then audits the failure with the status it answers (guard rejections never
// reach this interceptor at all).
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly auditor: RequestAuditor,
    private readonly cls: ClsService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuditedRequest>();
    if (!request.auditAction) return next.handle();
    const byHandler = this.reflector.get<boolean | undefined>(AUDIT_BY_HANDLER, context.getHandler()) === true;
    // Audit rows written below (by the handler too) pick the request and its caller up from here.
    return from(
      this.cls.run({ ifNested: 'inherit' }, async () => {
        this.cls.set(AUDIT_REQUEST, request);
        this.cls.set(AUDIT_REQUEST_ID, requestIdOf(request));
        this.cls.set(AUDIT_ACTOR_ID, request.user?.id ?? null);
        const result = byHandler ? await this.handle(next) : await this.auditor.commitWith(request, () => this.handle(next));
        request.audited = true;
        return result;
      }),
    );
  }

  private handle(next: CallHandler): Promise<unknown> {
    return lastValueFrom(next.handle(), { defaultValue: undefined });
  }
}
