import { SetMetadata } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import type { JsonBounds } from './json-bounds';

// How large a body a route takes. Every route takes a small one (credentials, one email, a role)
// unless it declares more: `profile` for the routes that carry a user's metadata (at most 16 KiB
// as JSON), `bulk` for the routes that carry up to 10,000 users or ids. Fastify refuses a body
// over the route's byte limit with 413, from its Content-Length before reading it.
export type BodySize = 'small' | 'profile' | 'bulk';

export const BODY_SIZE = 'bodySize';

export const BodyLimit = (size: Exclude<BodySize, 'small'>) => SetMetadata(BODY_SIZE, size);

// The metadata key of @nestjs/platform-fastify's RouteConfig (its FASTIFY_ROUTE_CONFIG_METADATA;
// a unit test keeps them equal), written here so that Express hosts need no Fastify package.
export const FASTIFY_ROUTE_CONFIG = '__fastify_route_config__';
// In a route's Fastify config: the route is one of the bodies' owner's (see BodyLimitedRoutes).
export const BODY_OWNER = 'bodyOwner';

// Marks every route of a controller in its Fastify route config with `owner` and its body size,
// so that hooks installed on the host's instance recognise exactly these routes, whatever prefix,
// global prefix or version they are served under.
export function BodyLimitedRoutes(owner: string): ClassDecorator {
  return (controller) => {
    const prototype = controller.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[key];
      if (key === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG, handler) as Record<string, unknown> | undefined) ?? {};
      Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG, { ...config, [BODY_OWNER]: owner, [BODY_SIZE]: bodySizeOfHandler(handler) }, handler);
    }
  };
}

export function bodySizeOfHandler(handler: object): BodySize {
  return (Reflect.getMetadata(BODY_SIZE, handler) as BodySize | undefined) ?? 'small';
}

// The owner and size a route's Fastify config carries (undefined: not a marked route).
export function routeBodyOf(routeConfig: unknown): { owner: string; size: BodySize } | undefined {
  const config = routeConfig as { [BODY_OWNER]?: unknown; [BODY_SIZE]?: BodySize } | undefined;
  return typeof config?.[BODY_OWNER] === 'string' ? { owner: config[BODY_OWNER], size: config[BODY_SIZE] ?? 'small' } : undefined;
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
