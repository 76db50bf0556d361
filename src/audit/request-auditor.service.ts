import { Injectable, Logger } from '@nestjs/common';
import { requestIdOf } from '../common/http-exchange';
import { Db } from '../database/db.service';
import type { AuditDetails } from './audit-details';
import { AuditLog, type AuditContext, type AuditStatement } from './audit-log.service';
import { changedFieldNames, targetIds, type AuditedRequest } from './audited-request';

// Runs a change so that it commits with the request's success row (see RequestAuditor.commitWith).
export type Commit = <T>(change: () => Promise<T>) => Promise<T>;

// Writes the audit of a mutating request: actor, action, target ids, outcome, request id, client
// address and the names (never values) of the fields it changed; one row per target user.
@Injectable()
export class RequestAuditor {
  private readonly logger = new Logger(RequestAuditor.name);

  constructor(
    private readonly audit: AuditLog,
    private readonly db: Db,
  ) {}

  // Runs `change` and the success row (naming the users its result names) in one transaction: a
  // row that cannot be written rolls the change back. The interceptor wraps an @Audited handler in
  // it; an @AuditedByHandler handler calls it itself once its slow work (argon2) is done, so that
  // no pooled connection, nor any row lock, is held meanwhile.
  commitWith<T>(request: AuditedRequest, change: () => Promise<T>): Promise<T> {
    const action = request.auditAction;
    if (!action) throw new Error('commitWith called on a route without an audit action');
    return this.db.transaction(async () => {
      const result = await change();
      await this.recordSuccess(request, action, result);
      return result;
    });
  }

  // commitWith bound to a request, for a service that prepares before it changes.
  committer(request: AuditedRequest): Commit {
    return (change) => this.commitWith(request, change);
  }

  // The success row, in the caller's transaction (commitWith's, beside the change). A row that
  // cannot be written throws, which rolls the change back: nothing commits unaudited.
  async recordSuccess(request: AuditedRequest, action: string, result: unknown): Promise<void> {
    await this.audit.auditLogRequest(targetIds(request, result), action, this.details(request, { outcome: 'success' }), this.context(request));
  }

  // The success row as a hook, for a handler that opens its own transaction (after its slow,
  // connection-free work) and calls the hook inside it with its result.
  successHook(request: AuditedRequest): (result: unknown) => Promise<void> {
    const action = request.auditAction;
    if (!action) throw new Error('successHook called on a route without an audit action');
    return (result) => this.recordSuccess(request, action, result);
  }

  // The success row as a statement, for a handler that runs it on a connection of its own.
  successStatement(request: AuditedRequest): AuditStatement {
    if (!request.auditAction) throw new Error('successStatement called on a route without an audit action');
    return this.audit.requestStatement(targetIds(request), request.auditAction, this.details(request, { outcome: 'success' }), this.context(request));
  }

  // The log line of a statement from successStatement, once it has run.
  logWritten(statement: AuditStatement): void {
    this.audit.logWritten(statement);
  }

  // A rejected or failed request, once its transaction (if any) has rolled back. The answer
  // stands even if this row cannot be written; the log keeps it.
  async recordFailure(request: AuditedRequest, outcome: { status: number; errorCode?: string }): Promise<void> {
    if (!request.auditAction || request.audited) return;
    request.audited = true;
    try {
      await this.audit.auditLogRequest(
        targetIds(request),
        `${request.auditAction}.rejected`,
        this.details(request, { outcome: 'failure', status: outcome.status, ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}) }),
        this.context(request),
      );
    } catch (error) {
      this.logger.error({ err: error, action: request.auditAction, requestId: request.id }, 'audit write failed');
    }
  }

  private details(request: AuditedRequest, outcome: AuditDetails): AuditDetails {
    return { ...outcome, fields: changedFieldNames(request), clientAddress: request.ip };
  }

  private context(request: AuditedRequest): AuditContext {
    return { actorId: request.user?.id ?? null, requestId: requestIdOf(request) };
  }
}
