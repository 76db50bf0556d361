import { DataSource } from 'typeorm';
import { UsersService } from '../../src/users/users.service';
import { createTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

const HASH = /\$argon2|\$2[aby]\$/;

describe('/users (single-user routes)', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  async function auditActions(userId: string): Promise<string[]> {
    const page = await t.users.getAuditLog(userId, { limit: 100 });
    return page.items.map((e) => e.action);
  }

  it('creates a user: 201 with the user and no hash, audited', async () => {
    const email = uniqueEmail('create');
    const res = await t.http.post('/users').set(auth).send({ email, password: 'long enough pw', fullName: 'Ada' }).expect(201);
    expect(res.body).toMatchObject({ email, fullName: 'Ada', isActive: true, roles: ['user'], version: 1 });
    expect(JSON.stringify(res.body)).not.toMatch(HASH);
    expect(Object.keys(res.body).sort()).toEqual(
      ['createdAt', 'deletedAt', 'email', 'fullName', 'id', 'isActive', 'isDeleted', 'lastLoginAt', 'metadata', 'roles', 'updatedAt', 'version'].sort(),
    );
    const audit = await t.users.getAuditLog(res.body.id as string);
    expect(audit.items[0]).toMatchObject({ action: 'user.create', actorId: t.admin.id, details: expect.objectContaining({ outcome: 'success', fields: expect.arrayContaining(['email', 'password', 'fullName']) }) });
    expect(JSON.stringify(audit.items)).not.toContain('long enough pw');
  });

  it('answers 409 for a duplicate email, whatever its case and width', async () => {
    const email = uniqueEmail('dup');
    await t.http.post('/users').set(auth).send({ email, password: 'long enough pw' }).expect(201);
    const res = await t.http.post('/users').set(auth).send({ email: email.toUpperCase(), password: 'long enough pw' }).expect(409);
    expect(res.body).toMatchObject({ statusCode: 409, code: 'USER_ALREADY_EXISTS', requestId: expect.any(String) });
  });

  it('rejects bad bodies with 400 naming the fields', async () => {
    const unknown = await t.http.post('/users').set(auth).send({ email: uniqueEmail(), password: 'long enough pw', isAdmin: true }).expect(400);
    expect(unknown.body.code).toBe('VALIDATION_FAILED');
    expect(unknown.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'isAdmin' })]));
    const short = await t.http.post('/users').set(auth).send({ email: 'not-an-email', password: 'short' }).expect(400);
    expect(short.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['email', 'password']);
    await t.http.post('/users').set(auth).set('content-type', 'application/json').send('{"email":').expect(400);
  });

  it('needs a token (401) and the admin role (403), and audits the rejection', async () => {
    const { user, password } = await t.factories.createUser();
    const token = await t.tokenFor(user, password);
    await t.http.get('/users').expect(401);
    await t.http.get('/users').set('authorization', 'Bearer nonsense').expect(401);
    const forbidden = await t.http.patch(`/users/${user.id}`).set('authorization', `Bearer ${token}`).send({ fullName: 'Me' }).expect(403);
    expect(forbidden.body.code).toBe('FORBIDDEN');
    await expect(auditActions(user.id)).resolves.toContain('user.update.rejected');
  });

  it('gets, heads, patches with If-Match, and includes files', async () => {
    const { user } = await t.factories.createUser({ fullName: 'Before' });
    const got = await t.http.get(`/users/${user.id}`).set(auth).expect(200);
    expect(got.headers.etag).toBe(`"${user.version}"`);
    await t.http.head(`/users/${user.id}`).set(auth).expect(200);
    await t.http.head('/users/00000000-0000-0000-0000-000000000000').set(auth).expect(404);
    await t.http.get('/users/not-a-uuid').set(auth).expect(404);

    const patched = await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', `"${user.version}"`).send({ fullName: 'After', metadata: { plan: 'pro' } }).expect(200);
    expect(patched.body).toMatchObject({ fullName: 'After', metadata: { plan: 'pro' }, version: user.version + 1 });
    const stale = await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', `"${user.version}"`).send({ fullName: 'Lost' }).expect(412);
    expect(stale.body.code).toBe('VERSION_CONFLICT');
    await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', `"${user.version}"`).send({}).expect(412);
    await t.http.patch(`/users/${user.id}`).set(auth).send({ roles: ['admin'] }).expect(400);
    await expect(auditActions(user.id)).resolves.toEqual(expect.arrayContaining(['user.update', 'user.update.rejected']));

    await t.app.get(DataSource).query(`INSERT INTO files (user_id, filename, content_type, size_bytes) VALUES ($1, 'a.txt', 'text/plain', 3)`, [user.id]);
    const withFiles = await t.http.get(`/users/${user.id}?include=files`).set(auth).expect(200);
    expect(withFiles.body.files).toEqual([expect.objectContaining({ filename: 'a.txt', sizeBytes: 3 })]);
    await t.http.get(`/users/${user.id}?include=everything`).set(auth).expect(400);
  });

  it('soft-deletes, restores, deactivates and reactivates', async () => {
    const { user } = await t.factories.createUser();
    const deleted = await t.http.delete(`/users/${user.id}`).set(auth).expect(200);
    expect(deleted.body).toMatchObject({ isDeleted: true });
    await t.http.get(`/users/${user.id}`).set(auth).expect(404);
    const listed = await t.http.get('/users?withDeleted=true&limit=1000').set(auth).expect(200);
    expect(listed.body.items.map((u: { id: string }) => u.id)).toContain(user.id);
    await t.http.post(`/users/${user.id}/restore`).set(auth).expect(200);
    const inactive = await t.http.post(`/users/${user.id}/deactivate`).set(auth).expect(200);
    expect(inactive.body.isActive).toBe(false);
    const active = await t.http.post(`/users/${user.id}/reactivate`).set(auth).expect(200);
    expect(active.body.isActive).toBe(true);
    await t.http.post('/users/00000000-0000-0000-0000-000000000000/deactivate').set(auth).expect(404);
  });

  it('refuses to restore over a live user holding the email (409)', async () => {
    const email = uniqueEmail('restore');
    const { user } = await t.factories.createUser({ email });
    await t.http.delete(`/users/${user.id}`).set(auth).expect(200);
    await t.factories.createUser({ email });
    const res = await t.http.post(`/users/${user.id}/restore`).set(auth).expect(409);
    expect(res.body.code).toBe('USER_ALREADY_EXISTS');
  });

  it('sets a password (204) and the old one stops working', async () => {
    const { user, password } = await t.factories.createUser();
    await t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'brand new password' }).expect(204);
    await t.http.post('/auth/login').send({ email: user.email, password }).expect(401);
    await t.http.post('/auth/login').send({ email: user.email, password: 'brand new password' }).expect(200);
    await t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'short' }).expect(400);
  });

  it('assigns and revokes roles', async () => {
    const { user } = await t.factories.createUser();
    const assigned = await t.http.post(`/users/${user.id}/roles`).set(auth).send({ role: 'editor' }).expect(200);
    expect(assigned.body.roles).toEqual(['user', 'editor']);
    await t.http.post(`/users/${user.id}/roles`).set(auth).send({ role: 'Not A Role' }).expect(400);
    const revoked = await t.http.delete(`/users/${user.id}/roles/editor`).set(auth).expect(200);
    expect(revoked.body.roles).toEqual(['user']);
  });

  it('upserts: 201 when created, 200 when updated', async () => {
    const email = uniqueEmail('upsert');
    const created = await t.http.put('/users/upsert').set(auth).send({ email, defaults: { fullName: 'New' } }).expect(201);
    const updated = await t.http.put('/users/upsert').set(auth).send({ email: email.toUpperCase(), defaults: { fullName: 'Newer' } }).expect(200);
    expect(updated.body).toMatchObject({ id: created.body.id, fullName: 'Newer' });
    await t.http.put('/users/upsert').set(auth).send({ email, defaults: { hashedPassword: 'x' } }).expect(400);
  });

  it('anonymizes (204): the old email and name are gone', async () => {
    const { user } = await t.factories.createUser({ fullName: 'Erase Me' });
    await t.http.post(`/users/${user.id}/anonymize`).set(auth).expect(204);
    await t.http.get(`/users/${user.id}`).set(auth).expect(404);
    const search = await t.http.get(`/users/search?q=${encodeURIComponent(user.email)}`).set(auth).expect(200);
    expect(search.body.total).toBe(0);
    const log = await t.http.get(`/users/${user.id}/audit-log`).set(auth).expect(200);
    expect(JSON.stringify(log.body)).not.toContain(user.email);
    expect(JSON.stringify(log.body)).not.toContain('Erase Me');
  });

  it('enforces the guardrails: no self-harm, the last admin keeps the role', async () => {
    // Another admin exists, so only the self-harm rule can refuse these.
    const { user: other } = await t.factories.createUser({ roles: ['user', 'admin'] });
    const self = t.admin.id;
    const shouted = self.toUpperCase();
    for (const call of [
      t.http.delete(`/users/${shouted}`),
      t.http.post(`/users/${shouted}/deactivate`),
      t.http.post('/users/bulk-delete').send({ ids: [shouted] }),
      t.http.delete(`/users/${self}`),
      t.http.post(`/users/${self}/deactivate`),
      t.http.post(`/users/${self}/anonymize`),
      t.http.delete(`/users/${self}/roles/admin`),
      t.http.patch(`/users/${self}`).send({ isActive: false }),
    ]) {
      const res = await call.set(auth).expect(403);
      expect(res.body.code).toBe('GUARDRAIL_VIOLATION');
    }
    await t.http.delete(`/users/${other.id}/roles/admin`).set(auth).expect(200);
    // Over HTTP the caller is always an active admin, so the self rule already keeps one; the
    // service (which sibling modules may call for any actor) also refuses to remove the last.
    const { user: operator } = await t.factories.createUser();
    await expect(t.app.get(UsersService).revokeRole({ id: operator.id }, self, 'admin')).rejects.toMatchObject({ code: 'GUARDRAIL_VIOLATION' });
    await expect(t.app.get(UsersService).deactivateUser({ id: operator.id }, self)).rejects.toMatchObject({ code: 'GUARDRAIL_VIOLATION' });
  });

  it('keeps the last active admin when two admins remove each other at once', async () => {
    const { user: a } = await t.factories.createUser({ roles: ['user', 'admin'] });
    const { user: b } = await t.factories.createUser({ roles: ['user', 'admin'] });
    const service = t.app.get(UsersService);
    // The harness admin steps aside, so that a and b are the only active admins.
    await t.users.deactivateUser(t.admin.id);
    try {
      const outcomes = await Promise.allSettled([service.deactivateUser({ id: a.id }, b.id), service.deactivateUser({ id: b.id }, a.id)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      await expect(t.users.countActiveUsersWithRole('admin')).resolves.toBe(1);
    } finally {
      await t.users.reactivateUser(t.admin.id);
      // Both changes moved the admin's version, which retired its token.
      auth = { authorization: `Bearer ${await t.tokenFor(t.admin)}` };
    }
  });

  it('keeps the guardrails on upsert and import, and an import update changes only given fields', async () => {
    const email = t.admin.email;
    const upsert = await t.http.put('/users/upsert').set(auth).send({ email, defaults: { isActive: false } }).expect(403);
    expect(upsert.body.code).toBe('GUARDRAIL_VIOLATION');
    await t.http.post('/users/import?onConflict=update').set(auth).send({ users: [{ email: email.toUpperCase(), roles: ['user'] }] }).expect(403);
    await expect(t.users.getUserById(t.admin.id)).resolves.toMatchObject({ isActive: true, roles: expect.arrayContaining(['admin']) });

    const { user } = await t.factories.createUser({ roles: ['user', 'editor'], fullName: 'Keep Me' });
    await t.users.partialUpdateUser(user.id, { metadata: { plan: 'pro' } });
    await t.http.post('/users/import?onConflict=update').set(auth).send({ users: [{ email: user.email, isActive: false }] }).expect(201);
    await expect(t.users.getUserById(user.id)).resolves.toMatchObject({ isActive: false, roles: ['user', 'editor'], fullName: 'Keep Me', metadata: { plan: 'pro' } });
  });

  it('serves the audit log of a user, paged', async () => {
    const { user } = await t.factories.createUser();
    await t.http.post(`/users/${user.id}/deactivate`).set(auth).expect(200);
    const res = await t.http.get(`/users/${user.id}/audit-log?limit=10`).set(auth).expect(200);
    expect(res.body).toMatchObject({ total: 1, offset: 0, limit: 10 });
    expect(res.body.items[0]).toMatchObject({ action: 'user.deactivate', actorId: t.admin.id, userId: user.id, requestId: expect.any(String) });
    await t.http.get(`/users/${user.id}/audit-log?limit=-1`).set(auth).expect(400);
  });

  it('answers 413 for a body over the limit', async () => {
    const big = 'x'.repeat(t.config.bodyLimitBytes + 10);
    const res = await t.http.post('/users').set(auth).set('content-type', 'application/json').send(`{"email":"${big}"}`);
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

