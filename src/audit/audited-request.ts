import type { FastifyRequest } from 'fastify';
import { isUuid } from '../users/repository/paging';

// What the audit pieces note on a request as it passes the guards and the interceptor.
export interface AuditedRequest extends FastifyRequest {
  user?: { id: string };
  auditAction?: string;
  audited?: boolean;
}

// Ids a request is about: the :id in the path and/or the ids of a bulk body.
export function targetIds(request: AuditedRequest): string[] {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Record<string, unknown>;
  const ids = [params.id, ...(Array.isArray(body.ids) ? body.ids : [])];
  // Only well-formed ids name a user; `PATCH /users/garbage` is audited with no target.
  return [...new Set(ids.filter(isUuid))];
}

// Names of the fields a request tried to change; values are never recorded.
export function changedFieldNames(request: AuditedRequest): string[] {
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const record = body as Record<string, unknown>;
  const data = record.data;
  const source = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : record;
  return Object.keys(source).filter((k) => k !== 'ids' && k !== 'users');
}
