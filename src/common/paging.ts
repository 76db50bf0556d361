import { ValidationFailedError } from '../errors/domain-error';

export interface Page<T> {
  items: T[];
  total: number;
  // Set when counting stopped at a cap (searches, at SEARCH_TOTAL_CAP): `total` is then the cap,
  // and more items match.
  totalCapped?: true;
  offset: number;
  limit: number;
}

export interface KeysetPage<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageOptions {
  offset?: number;
  limit?: number;
  withDeleted?: boolean;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 1000;

export interface Paging {
  offset: number;
  limit: number;
  withDeleted: boolean;
}

export function paging(options: PageOptions = {}): Paging {
  const offset = options.offset ?? 0;
  const requested = options.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw ValidationFailedError.field('offset', 'must be an integer >= 0');
  if (!Number.isSafeInteger(requested) || requested < 1) throw ValidationFailedError.field('limit', 'must be an integer >= 1');
  // Larger pages are capped, not refused; the returned `limit` tells the caller.
  return { offset, limit: Math.min(requested, MAX_PAGE_LIMIT), withDeleted: options.withDeleted === true };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// An id that is not a UUID cannot name a user: callers get "not found", never a SQL error.
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
