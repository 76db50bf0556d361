import { freePort } from '../foundation/service-process';
import { createTestApp, type TestApp } from '../harness/create-test-app';

// Redis holds only the cache and the rate-limit counters: with it gone, the API keeps serving.
describe('with REDIS_URL pointing at a Redis that is down', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ redisUrl: `redis://127.0.0.1:${await freePort()}`, cacheTimeoutMs: 100 });
  });
  afterAll(() => t.close());

  it('logs in, reads, writes and runs sensitive actions (limits counted in this process)', async () => {
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const { user, password } = await t.factories.createUser();
    await expect(t.tokenFor(user, password)).resolves.toEqual(expect.any(String));
    await t.http.get(`/users/${user.id}`).set(auth).expect(200);
    await t.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'Still Here' }).expect(200);
    const fresh = await t.http.get(`/users/${user.id}`).set(auth).expect(200);
    expect(fresh.body.fullName).toBe('Still Here');
    await t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'during the outage' }).expect(204);
  });
});
