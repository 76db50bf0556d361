import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { AUDIT_ACTION } from '../../src/audit/audit.decorators';
import { IS_PUBLIC } from '../../src/auth/public.decorator';
import { ROLES_KEY } from '../../src/auth/roles.decorator';
import { THROTTLE_ACTION, THROTTLE_NONE } from '../../src/throttling/throttling.decorators';
import { createTestApp, type TestApp } from '../harness/create-test-app';

interface Route {
  name: string;
  method: string;
  path: string;
  handler: object;
  controller: object;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function routesOf(t: TestApp): Route[] {
  const routes: Route[] = [];
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as { prototype: Record<string, unknown>; name: string };
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      for (const key of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[key] as object;
        if (key === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/')}`;
        routes.push({ name: `${method} ${path} (${controller.name}.${key})`, method, path, handler, controller });
      }
    }
  }
  return routes;
}

const meta = (key: string, route: Route): unknown => Reflect.getMetadata(key, route.handler) ?? Reflect.getMetadata(key, route.controller);

describe('every route', () => {
  let t: TestApp;
  let routes: Route[];

  beforeAll(async () => {
    t = await createTestApp();
    routes = routesOf(t);
  });
  afterAll(() => t.close());

  it('finds the routes', () => {
    expect(routes.length).toBeGreaterThan(25);
  });

  it('declares who may call it: @Public() or @Roles(...)', () => {
    const undeclared = routes.filter((r) => meta(IS_PUBLIC, r) !== true && !Array.isArray(meta(ROLES_KEY, r)));
    expect(undeclared.map((r) => r.name)).toEqual([]);
  });

  it('requires the admin role on every /users route', () => {
    const open = routes.filter((r) => r.path.startsWith('/users') && !(meta(ROLES_KEY, r) as string[] | undefined)?.includes('admin'));
    expect(open.map((r) => r.name)).toEqual([]);
  });

  it('audits every mutating route', () => {
    const unaudited = routes.filter((r) => MUTATING.has(r.method) && typeof Reflect.getMetadata(AUDIT_ACTION, r.handler) !== 'string');
    expect(unaudited.map((r) => r.name)).toEqual([]);
  });

  it('makes its throttling decision explicit', () => {
    const implicit = routes.filter((r) => meta(THROTTLE_ACTION, r) === undefined && meta(THROTTLE_NONE, r) !== true);
    expect(implicit.map((r) => r.name)).toEqual([]);
  });

  it('is documented in the OpenAPI document, with unique operation ids', async () => {
    const res = await t.http.get('/docs-json').expect(200);
    const doc = res.body as { paths: Record<string, Record<string, { operationId?: string }>> };
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`)),
    );
    const missing = routes.filter((r) => !documented.has(`${r.method} ${r.path}`));
    expect(missing.map((r) => r.name)).toEqual([]);
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    await t.http.get('/docs').expect(200);
  });
});
