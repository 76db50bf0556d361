import { createTestApp, type TestApp } from '../harness/create-test-app';

// The one spec where the sensitive-action throttler is meant to bite (limits of 2 per window).
describe('sensitive actions are rate-limited', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp({ throttleSensitive: { 'password-change': 2, anonymize: 2, export: 2, import: 2, 'bulk-delete': 2 } });
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('counts password changes per target account, with a plain Retry-After', async () => {
    const { user: first } = await t.factories.createUser();
    const { user: second } = await t.factories.createUser();
    // The same account however its id is spelled: PostgreSQL ignores the case of a uuid.
    await t.http.put(`/users/${first.id}/password`).set(auth).send({ password: 'new password 0' }).expect(204);
    await t.http.put(`/users/${first.id.toUpperCase()}/password`).set(auth).send({ password: 'new password 1' }).expect(204);
    const refused = await t.http.put(`/users/${first.id}/password`).set(auth).send({ password: 'new password 3' }).expect(429);
    expect(refused.body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', requestId: expect.any(String) });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(t.config.throttleWindowMs / 1000);
    // Another account has its own budget: an admin can serve many users.
    await t.http.put(`/users/${second.id}/password`).set(auth).send({ password: 'new password 1' }).expect(204);
    const audit = await t.users.getAuditLog(first.id);
    expect(audit.items[0]).toMatchObject({ action: 'user.password-change.rejected', details: expect.objectContaining({ errorCode: 'RATE_LIMITED' }) });
  });

  it('counts exports per calling admin', async () => {
    await t.http.get('/users/export').set(auth).expect(200);
    await t.http.get('/users/export?format=json').set(auth).expect(200);
    await t.http.get('/users/export').set(auth).expect(429);
    const { user: otherAdmin, password } = await t.factories.createUser({ roles: ['user', 'admin'] });
    const otherToken = await t.tokenFor(otherAdmin, password);
    await t.http.get('/users/export').set('authorization', `Bearer ${otherToken}`).expect(200);
  });

  it('does not throttle ordinary reads', async () => {
    for (let i = 0; i < 10; i++) await t.http.get('/users/count').set(auth).expect(200);
  });
});
