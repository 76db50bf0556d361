import { ValidationFailedError } from '../errors/domain-error';
import { Injectable, Logger } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { Db } from '../database/db.service';
import { TableNames } from '../database/table-names';
import { REQUEST_ID } from '../common/request-id';
import { isUuid, paging } from '../common/paging';
import type { Page, PageOptions } from '../common/paging';
import { sanitizeAuditDetails, type AuditDetails } from './audit-details';
import type { AuditedRequest } from './audited-request';

export interface AuditEntry {
  id: string;
  userId: string | null;
  actorId: string | null;
  action: string;
  details: AuditDetails;
  requestId: string | null;
  createdAt: Date;
}

export interface AuditStatement {
  sql: string;
  params: unknown[];
  entry: Omit<AuditEntry, 'id' | 'createdAt'>;
}

export interface AuditContext {
  actorId?: string | null;
  requestId?: string | null;
}

// Who acted and for which request. Code that is not the direct caller (the REST audit
// interceptor, guards) sets these keys in the request's nestjs-cls context once; repository
// writes deep below then pick them up. An explicit `context` argument wins over the ambient one.
export const AUDIT_ACTOR_ID = 'audit:actorId';
export const AUDIT_REQUEST_ID = 'audit:requestId';
export const AUDIT_REQUEST = 'audit:request';

const ACTION = /^[a-z][a-z0-9_.:-]{0,63}$/;

// Newest first; WHERE and ORDER BY follow IDX_audit_log_user_id_created_at (id breaks the ties
// of rows written by one transaction, which share now()).
export function auditPageSql(t: TableNames): string {
  return `SELECT id::text AS id, user_id, actor_id, action, details, request_id, created_at
  FROM ${t.auditLog} WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT $3`;
}

interface AuditRow {
  id: string;
  user_id: string | null;
  actor_id: string | null;
  action: string;
  details: AuditDetails;
  request_id: string | null;
  created_at: Date;
}

// Append-only audit trail. A row is written in the caller's transaction (it rolls back with the
// change it describes); the structured log line follows only once that transaction commits.
@Injectable()
export class AuditLog {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly db: Db,
    private readonly cls: ClsService,
    private readonly t: TableNames,
  ) {}

  async auditLogUserChange(
    userId: string | null,
    action: string,
    details: AuditDetails | string = '',
    context: AuditContext = {},
  ): Promise<void> {
    const entry = this.entry(userId, action, details, context);
    await this.db.query(
      `INSERT INTO ${this.t.auditLog} (user_id, actor_id, action, details, request_id) VALUES ($1, $2, $3, $4::jsonb, $5)`,
      [entry.userId, entry.actorId, entry.action, JSON.stringify(entry.details), entry.requestId],
    );
    await this.db.afterCommit(async () => this.logger.log({ msg: 'audit', audit: entry }));
  }

  // The audit of one request about any number of users, in the caller's transaction.
  async auditLogRequest(userIds: readonly string[], action: string, details: AuditDetails, context: AuditContext = {}): Promise<void> {
    const statement = this.requestStatement(userIds, action, details, context);
    await this.db.query(statement.sql, statement.params);
    await this.db.afterCommit(async () => this.logWritten(statement));
  }

  // One row per target user, each naming only its own target (plus `count` when there are
  // several), so that every user's history shows the request through
  // IDX_audit_log_user_id_created_at however many users it touched; a request about no user gets
  // one row without a user. For callers that must run the INSERT on a connection of their own
  // (a streamed export, before its first byte); then call logWritten once it has run.
  requestStatement(userIds: readonly string[], action: string, details: AuditDetails, context: AuditContext = {}): AuditStatement {
    const ids = [...new Set(userIds.map((id) => id.toLowerCase()))];
    if (ids.some((id) => !isUuid(id))) throw ValidationFailedError.field('userIds', 'must be UUIDs');
    const entry = this.entry(ids.length === 1 ? ids[0] : null, action, { ...details, ...(ids.length > 1 ? { count: ids.length } : {}), targetIds: ids }, context);
    const shared: AuditDetails = { ...entry.details };
    delete shared.targetIds;
    return {
      sql: `INSERT INTO ${this.t.auditLog} (user_id, actor_id, action, details, request_id)
            SELECT t.id, $2::uuid, $3::text, $4::jsonb || jsonb_build_object('targetIds', CASE WHEN t.id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(t.id) END), $5::text
              FROM unnest($1::uuid[]) AS t(id)`,
      params: [ids.length ? ids : [null], entry.actorId, entry.action, JSON.stringify(shared), entry.requestId],
      entry,
    };
  }

  // One log line per request, however many rows it wrote (the targets capped as in the rows).
  logWritten(statement: AuditStatement): void {
    this.logger.log({ msg: 'audit', audit: statement.entry });
  }

  // Notes, for the errors filter, the user that the current request turned out to be about when
  // its path does not say (the account a login names): the rejection is audited on that user.
  noteSubject(userId: string): void {
    const request = this.cls.get<AuditedRequest | undefined>(AUDIT_REQUEST);
    if (request && isUuid(userId)) request.auditSubjectId = userId;
  }

  async getAuditLog(userId: string, options: PageOptions = {}): Promise<Page<AuditEntry>> {
    const { offset, limit } = paging(options);
    if (!isUuid(userId)) return { items: [], total: 0, offset, limit };
    const [rows, [{ total }]] = await Promise.all([
      this.db.query<AuditRow>(auditPageSql(this.t), [userId, offset, limit]),
      this.db.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${this.t.auditLog} WHERE user_id = $1`, [userId]),
    ]);
    return { items: rows.map(toEntry), total, offset, limit };
  }

  private entry(userId: string | null, action: string, details: AuditDetails | string, context: AuditContext): Omit<AuditEntry, 'id' | 'createdAt'> {
    if (userId !== null && !isUuid(userId)) throw ValidationFailedError.field('userId', 'must be a UUID or null');
    if (typeof action !== 'string' || !ACTION.test(action)) throw ValidationFailedError.field('action', 'must match [a-z][a-z0-9_.:-]{0,63}');
    const actorId = context.actorId !== undefined ? context.actorId : this.cls.get<string | undefined>(AUDIT_ACTOR_ID);
    if (actorId != null && !isUuid(actorId)) throw ValidationFailedError.field('actorId', 'must be a UUID or null');
    const requestId = context.requestId !== undefined ? context.requestId : this.cls.get<string | undefined>(AUDIT_REQUEST_ID);
    return {
      userId,
      actorId: actorId ?? null,
      action,
      details: sanitizeAuditDetails(details),
      // A request id is only a correlation handle: an unusable one is dropped, not fatal.
      requestId: typeof requestId === 'string' && REQUEST_ID.test(requestId) ? requestId : null,
    };
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    userId: row.user_id,
    actorId: row.actor_id,
    action: row.action,
    details: row.details,
    requestId: row.request_id,
    createdAt: row.created_at,
  };
}
