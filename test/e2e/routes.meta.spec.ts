import { AUDIT_ACTION } from '../../src/audit/audit.decorators';
import { BODY_SIZE } from '../../src/common/body-limits';
import { IS_PUBLIC } from '../../src/users/auth/public.decorator';
import { ROLES_KEY } from '../../src/users/auth/roles.decorator';
import { THROTTLE_ACTION, THROTTLE_NONE } from '../../src/throttling/throttling.decorators';
import { createTestApp, type TestApp } from '../harness/create-test-app';
import { routesOf, type Route } from '../support/routes';
import { GUARDS_METADATA, EXCEPTION_FILTERS_METADATA } from '@nestjs/common/constants';
import { ErrorsFilter } from '../../src/errors/errors.filter';
import { RolesGuard } from '../../src/users/auth/roles.guard';
import { UsersAuthGuard } from '../../src/users/auth/users-auth.guard';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

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

  it("carries the module's own guards and error filter, whatever the host registers globally", () => {
    const own = (key: string, route: Route) => [...((Reflect.getMetadata(key, route.controller) as unknown[]) ?? []), ...((Reflect.getMetadata(key, route.handler) as unknown[]) ?? [])];
    const module = routes.filter((r) => r.path.startsWith('/users') || r.path.startsWith('/auth'));
    expect(module.length).toBeGreaterThan(25);
    const unguarded = module.filter((r) => !own(GUARDS_METADATA, r).includes(UsersAuthGuard) || !own(GUARDS_METADATA, r).includes(RolesGuard));
    expect(unguarded.map((r) => r.name)).toEqual([]);
    expect(module.filter((r) => !own(EXCEPTION_FILTERS_METADATA, r).includes(ErrorsFilter)).map((r) => r.name)).toEqual([]);
  });

  // One rule from route to code: reads call UsersRepository, every change calls UsersService.
  it('changes data only through UsersService', () => {
    const direct = routes.filter((r) => MUTATING.has(r.method) && /this\.users\./.test(Function.prototype.toString.call(r.handler)));
    expect(direct.map((r) => r.name)).toEqual([]);
  });

  it('audits every mutating route', () => {
    const unaudited = routes.filter((r) => MUTATING.has(r.method) && typeof Reflect.getMetadata(AUDIT_ACTION, r.handler) !== 'string');
    expect(unaudited.map((r) => r.name)).toEqual([]);
  });

  it('makes its throttling decision explicit', () => {
    const implicit = routes.filter((r) => meta(THROTTLE_ACTION, r) === undefined && meta(THROTTLE_NONE, r) !== true);
    expect(implicit.map((r) => r.name)).toEqual([]);
  });

  it('takes small bodies, except where one user\'s metadata or bulk work needs more', () => {
    const sizes = Object.fromEntries(routes.filter((r) => Reflect.getMetadata(BODY_SIZE, r.handler) !== undefined).map((r) => [`${r.method} ${r.path}`, Reflect.getMetadata(BODY_SIZE, r.handler) as string]));
    expect(sizes).toEqual({
      'PATCH /users/:id': 'profile',
      'PUT /users/upsert': 'profile',
      'POST /users/bulk': 'bulk',
      'PATCH /users/bulk': 'bulk',
      'POST /users/bulk-delete': 'bulk',
      'POST /users/import': 'bulk',
    });
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
