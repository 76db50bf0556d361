import { Injectable, Logger } from '@nestjs/common';
import { AuditLog } from './audit-log.service';
import { changedFieldNames, targetIds, type AuditedRequest } from './audited-request';

// Writes the one audit row of a mutating request once its outcome is known: actor, action,
// target ids, outcome, request id and the names (never values) of the fields it changed.
@Injectable()
export class RequestAuditor {
  private readonly logger = new Logger(RequestAuditor.name);

  constructor(private readonly audit: AuditLog) {}

  async record(request: AuditedRequest, outcome: { status?: number; errorCode?: string; createdId?: string }): Promise<void> {
    if (!request.auditAction || request.audited) return;
    request.audited = true;
    const ids = targetIds(request);
    if (outcome.createdId && !ids.includes(outcome.createdId)) ids.push(outcome.createdId);
    const failed = (outcome.status ?? 200) >= 400;
    try {
      await this.audit.auditLogUserChange(
        ids.length === 1 ? ids[0] : null,
        failed ? `${request.auditAction}.rejected` : request.auditAction,
        {
          outcome: failed ? 'failure' : 'success',
          ...(failed ? { status: outcome.status } : {}),
          ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
          targetIds: ids,
          fields: changedFieldNames(request),
        },
        { actorId: request.user?.id ?? null, requestId: String(request.id) },
      );
    } catch (error) {
      // The request's outcome stands even if its audit row cannot be written; the log keeps it.
      this.logger.error({ err: error, action: request.auditAction, requestId: request.id }, 'audit write failed');
    }
  }
}
