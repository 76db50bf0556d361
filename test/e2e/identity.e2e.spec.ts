import { createTestApp, type TestApp } from '../harness/create-test-app';

// Issue items 9, 10, 16 and 17: canonical emails, metadata keys and the error contract, over HTTP.
describe('identity and the error contract (e2e)', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  describe('If-Match (item 17)', () => {
    it('answers a stale If-Match with 412 VERSION_CONFLICT, the one status of that code', async () => {
      const { user } = await t.factories.createUser();
      await t.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'Moved on' }).expect(200);
      const stale = await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', `"${user.version}"`).send({ fullName: 'Lost' });
      expect([stale.status, stale.body.code, stale.body.details]).toEqual([412, 'VERSION_CONFLICT', { id: user.id, expectedVersion: user.version }]);
      const current = await t.users.safeGetUserById(user.id);
      expect(current.fullName).toBe('Moved on');
      await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', `"${current.version}"`).send({ fullName: 'Kept' }).expect(200);
    });
  });
});
