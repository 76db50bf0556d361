import { randomUUID } from 'node:crypto';
import { hash as hashArgon2 } from '@node-rs/argon2';
import { hash as hashBcrypt } from '@node-rs/bcrypt';
import { DataSource } from 'typeorm';
import { createTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

// Users imported from a system that used bcrypt can log in, and leave with an argon2id hash.
describe('a user imported with a bcrypt hash', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('logs in, gets a working token, and its hash is upgraded to argon2id', async () => {
    const email = uniqueEmail('legacy');
    const hashedPassword = await hashBcrypt('legacy password 1', 4);
    await t.http.post('/users/import').set('authorization', `Bearer ${t.adminToken}`).send({ users: [{ email, hashedPassword }] }).expect(201);
    const login = await t.http.post('/auth/login').send({ email, password: 'legacy password 1' }).expect(200);
    await t.http.get('/auth/me').set('authorization', `Bearer ${login.body.accessToken}`).expect(200);
    const credentials = await t.users.getCredentialsByEmail(email);
    expect(credentials?.hashedPassword).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await t.http.post('/auth/login').send({ email, password: 'legacy password 1' }).expect(200);
    await t.http.post('/auth/login').send({ email, password: 'wrong password 1' }).expect(401);
  });

  // Earlier versions accepted costlier imported hashes (bcrypt up to 14, argon2id up to 64 MiB and
  // 4 lanes). Verifying one would make its account's logins visibly slower (and each attempt a CPU
  // sink), so such a stored hash counts as no usable password: the login fails like a wrong
  // password, and an administrator's password reset lets the user in again.
  it.each([
    ['bcrypt cost 10', () => hashBcrypt('legacy password 1', 10)],
    ['argon2id m=32768,t=3', () => hashArgon2('legacy password 1', { algorithm: 2, memoryCost: 32768, timeCost: 3, parallelism: 1 })],
  ])('refuses a login against a hash (%s) stored under the older, looser bounds, until a reset', async (_kind, storedHash) => {
    const email = uniqueEmail('legacy-costly');
    const stored = await storedHash();
    await t.http.post('/users/import').set('authorization', `Bearer ${t.adminToken}`).send({ users: [{ email, hashedPassword: stored }] }).expect(400);
    await t.http.post('/users/import').set('authorization', `Bearer ${t.adminToken}`).send({ users: [{ email }] }).expect(201);
    const id = (await t.users.getCredentialsByEmail(email))!.id;
    // As a row written by an earlier version holds it.
    await t.app.get(DataSource).query(`UPDATE users SET hashed_password = $2 WHERE id = $1`, [id, stored]);
    await t.http.post('/auth/login').send({ email, password: 'legacy password 1' }).expect(401);
    await t.http.put(`/users/${id}/password`).set('authorization', `Bearer ${t.adminToken}`).send({ password: 'a brand new passphrase 2' }).expect(204);
    await t.http.post('/auth/login').send({ email, password: 'a brand new passphrase 2' }).expect(200);
  });

  // Two devices logging in at once on an imported account both verify the old hash; one of them
  // upgrades it. The other must still get in (with a token of the upgraded row), not a 401.
  it('lets every one of several concurrent logins in while one of them upgrades the hash', async () => {
    const email = uniqueEmail('legacy-concurrent');
    const oldHash = await hashBcrypt('legacy password 1', 4);
    await t.http.post('/users/import').set('authorization', `Bearer ${t.adminToken}`).send({ users: [{ email, hashedPassword: oldHash }] }).expect(201);
    const id = (await t.users.getCredentialsByEmail(email))!.id;
    const outcomes: number[][] = [];
    for (let round = 0; round < 5; round += 1) {
      await t.users.changeUserPassword(id, oldHash);
      const logins = await Promise.all([1, 2, 3].map(() => t.http.post('/auth/login').send({ email, password: 'legacy password 1' })));
      outcomes.push(logins.map((l) => l.status));
      for (const login of logins.filter((l) => l.status === 200)) {
        const me = await t.http.get('/auth/me').set('authorization', `Bearer ${(login.body as { accessToken: string }).accessToken}`);
        expect(me.status).toBe(200);
      }
    }
    expect(outcomes).toEqual(Array.from({ length: 5 }, () => [200, 200, 200]));
  });

  // The upgrade is a conditional write on the hash that was verified: a password set meanwhile
  // wins, the login that raced it fails, and no token is issued from the stale credentials.
  it('never undoes a password set while a login upgrades the hash (24 raced rounds)', async () => {
    const email = uniqueEmail('legacy-race');
    const oldHash = await hashBcrypt('legacy password 1', 4);
    await t.http.post('/users/import').set('authorization', `Bearer ${t.adminToken}`).send({ users: [{ email, hashedPassword: oldHash }] }).expect(201);
    const id = (await t.users.getCredentialsByEmail(email))!.id;
    const failures: string[] = [];
    for (let round = 0; round < 24; round += 1) {
      await t.users.changeUserPassword(id, oldHash);
      const newPassword = `new password ${round} ${randomUUID()}`;
      const [login, set] = await Promise.all([
        t.http.post('/auth/login').send({ email, password: 'legacy password 1' }),
        t.http.put(`/users/${id}/password`).set('authorization', `Bearer ${t.adminToken}`).send({ password: newPassword }),
      ]);
      expect(set.status).toBe(204);
      expect([200, 401]).toContain(login.status);
      const withNew = await t.http.post('/auth/login').send({ email, password: newPassword });
      const withOld = await t.http.post('/auth/login').send({ email, password: 'legacy password 1' });
      if (withNew.status !== 200 || withOld.status !== 401) failures.push(`round ${round}: new ${withNew.status}, old ${withOld.status}`);
      if (login.status === 200) {
        // A token from the raced login is only good if it was issued for the credentials that won.
        const me = await t.http.get('/auth/me').set('authorization', `Bearer ${(login.body as { accessToken: string }).accessToken}`);
        if (me.status !== 401) failures.push(`round ${round}: the raced login's token still works`);
      }
    }
    expect(failures).toEqual([]);
  });
});

