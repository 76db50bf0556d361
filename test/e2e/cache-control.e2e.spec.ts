import { createTestApp, type TestApp } from '../harness/create-test-app';

// Tokens and personal data must never be kept by a browser or a shared cache: every API answer,
// errors included, says `Cache-Control: no-store`.
describe('Cache-Control', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('is no-store on tokens, users, exports, errors and health', async () => {
    const { user, password } = await t.factories.createUser();
    const calls: [string, () => Promise<{ status: number; headers: Record<string, string> }>][] = [
      ['login', () => t.http.post('/auth/login').send({ email: user.email, password }).expect(200)],
      ['me', () => t.http.get('/auth/me').set(auth).expect(200)],
      ['get user', () => t.http.get(`/users/${user.id}`).set(auth).expect(200)],
      ['head user', () => t.http.head(`/users/${user.id}`).set(auth).expect(200)],
      ['list', () => t.http.get('/users').set(auth).expect(200)],
      ['export', () => t.http.get('/users/export?format=json').set(auth).expect(200)],
      ['update', () => t.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'Someone' }).expect(200)],
      ['failed login', () => t.http.post('/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401)],
      ['no token', () => t.http.get('/users').expect(401)],
      ['unknown user', () => t.http.get('/users/00000000-0000-4000-8000-000000000000').set(auth).expect(404)],
      ['bad body', () => t.http.post('/users').set(auth).send({ email: 'nope' }).expect(400)],
      ['no route', () => t.http.get('/nowhere').expect(404)],
      ['health', () => t.http.get('/health').expect(200)],
    ];
    const headers: string[] = [];
    for (const [name, call] of calls) headers.push(`${name}: ${String((await call()).headers['cache-control'])}`);
    expect(headers.filter((line) => !/: (.*, )?no-store(,|$)/.test(line))).toEqual([]);
  });
});
