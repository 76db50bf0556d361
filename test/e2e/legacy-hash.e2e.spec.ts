import { hash as hashBcrypt } from '@node-rs/bcrypt';
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
});
