import type { HttpRequest } from '../common/http-exchange';
import { isUuid } from '../common/paging';

// What the audit pieces note on a request as it passes the guards, the interceptor and the
// handler. `auditSubjectId` is the account a request turned out to be about when its path does
// not say (the account a login names, whether or not the password matched).
export interface AuditedRequest extends HttpRequest {
  user?: { id: string };
  auditAction?: string;
  audited?: boolean;
  auditSubjectId?: string;
}

// Ids a request is about: the :id in the path, the ids of a bulk body, the account noted by the
// handler, and the users the handler's result names (created, imported or upserted ones).
export function targetIds(request: AuditedRequest, result?: unknown): string[] {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Record<string, unknown>;
  const ids = [params.id, ...(Array.isArray(body.ids) ? body.ids : []), request.auditSubjectId, ...resultIds(result)];
  // Only well-formed ids name a user; `PATCH /users/garbage` is audited with no target.
  return [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
}

// A user ({id}), a list of users, or a report with `users` (an import).
function resultIds(result: unknown): unknown[] {
  if (typeof result !== 'object' || result === null) return [];
  const items = Array.isArray(result) ? result : (result as { users?: unknown }).users;
  if (Array.isArray(items)) return items.map((item) => (item as { id?: unknown } | null)?.id);
  return [(result as { id?: unknown }).id];
}

// Names of the fields a request tried to change, flattened: the keys of `data` (bulk update) and
// `defaults` (upsert) count as fields, and so does every key of every row of a bulk create or an
// import (JSON rows, or the header of a CSV body). Values are never recorded.
export function changedFieldNames(request: AuditedRequest): string[] {
  const body = request.body;
  if (typeof body === 'string') return csvHeader(body);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const fields = new Set<string>();
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'ids') continue;
    if (key === 'data' || key === 'defaults') keysOf(value).forEach((k) => fields.add(k));
    else if (key === 'users' && Array.isArray(value)) value.forEach((row) => keysOf(row).forEach((k) => fields.add(k)));
    else fields.add(key);
  }
  return [...fields];
}

function keysOf(value: unknown): string[] {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value) : [];
}

// The column names of a CSV import: its first line (the sanitizer drops anything that is no name).
function csvHeader(text: string): string[] {
  const header = text.slice(0, 4096).replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0];
  return header.split(',').map((name) => name.trim().replace(/^"(.*)"$/, '$1'));
}
