import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { JsonBounds } from './json-bounds';

// How large a body a route takes. Every route takes a small one (credentials, one email, a role)
// unless it declares more: `profile` for the routes that carry a user's metadata (at most 16 KiB
// as JSON), `bulk` for the routes that carry up to 10,000 users or ids. Fastify refuses a body
// over the route's byte limit with 413, from its Content-Length before reading it.
export type BodySize = 'small' | 'profile' | 'bulk';

export const BODY_SIZE = 'bodySize';

// Fastify reads the size from the route's config; the metadata lets the route meta-test read it.
export const BodyLimit = (size: Exclude<BodySize, 'small'>) => applyDecorators(SetMetadata(BODY_SIZE, size), RouteConfig({ [BODY_SIZE]: size }));

export function bodySizeOf(routeConfig: unknown): BodySize {
  const size = (routeConfig as { [BODY_SIZE]?: BodySize } | undefined)?.[BODY_SIZE];
  return size ?? 'small';
}

// No request body needs more than a few levels; a deeply nested one (a 4 KB body can nest 2,000
// arrays) would exhaust the stack of class-transformer before validation could refuse it.
const MAX_JSON_DEPTH = 32;

export function bodyBounds(bulkLimitBytes: number): Record<BodySize, JsonBounds & { bytes: number }> {
  return {
    small: { bytes: 8 * 1024, maxDepth: MAX_JSON_DEPTH, maxNodes: 256 },
    profile: { bytes: 64 * 1024, maxDepth: MAX_JSON_DEPTH, maxNodes: 10_000 },
    // 10,000 users of up to 50 values each (fields, roles and metadata).
    bulk: { bytes: bulkLimitBytes, maxDepth: MAX_JSON_DEPTH, maxNodes: 500_000 },
  };
}
