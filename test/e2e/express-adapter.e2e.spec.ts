import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'supertest';
import { createExpressTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

// The app's module tree on @nestjs/platform-express instead of Fastify: the modules' routes, their
// bodies and their error body must not depend on the adapter (issue 8, point 3).

const ERROR_BODY = { statusCode: expect.any(Number), code: expect.any(String), message: expect.any(String), requestId: expect.any(String) };

function expectAppError(res: Response, status: number, code: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({ status, body: expect.objectContaining({ ...ERROR_BODY, statusCode: status, code }) });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['x-request-id']).toBe((res.body as { requestId: string }).requestId);
}

// A text body read whole (supertest leaves text/csv unparsed otherwise).
function asText(res: Response, done: (error: Error | null, body: string) => void): void {
  let text = '';
  res.on('data', (chunk: Buffer) => (text += chunk.toString()));
  res.on('end', () => done(null, text));
}

// An import of `count` rows of about 200 bytes each, only validated (dryRun), never written.
function importRows(count: number): { users: { email: string; fullName: string }[] } {
  return { users: Array.from({ length: count }, (_, i) => ({ email: `bulk-${i}-${uniqueEmail('x')}`, fullName: 'n'.repeat(150) })) };
}

describe('the modules under Express, created as the README recommends (bodyParser: false)', () => {
  let t: TestApp<NestExpressApplication>;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createExpressTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('runs on Express', () => {
    expect(t.app.getHttpAdapter().getType()).toBe('express');
  });

  it('logs in over JSON and answers the token holder', async () => {
    const { user, password } = await t.factories.createUser({ roles: ['user'] });
    const login = await t.http.post('/auth/login').send({ email: user.email, password }).expect(200);
    expect(login.body).toMatchObject({ accessToken: expect.any(String) });
    const me = await t.http.get('/auth/me').set('authorization', `Bearer ${login.body.accessToken as string}`).expect(200);
    expect(me.body).toMatchObject({ id: user.id, email: user.email });
  });

  it('lists users, with a request id and no-store on the answer', async () => {
    const { user } = await t.factories.createUser();
    const res = await t.http.get('/users?limit=100').set(auth).set('x-request-id', 'caller-id-1').expect(200);
    expect(res.body.items.map((u: { id: string }) => u.id)).toContain(user.id);
    expect(res.headers['x-request-id']).toBe('caller-id-1');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('creates (201), refuses a duplicate (409) and an invalid body (400) with the app error body', async () => {
    const email = uniqueEmail('create');
    const created = await t.http.post('/users').set(auth).send({ email, password: 'long enough pw' }).expect(201);
    expect(created.body).toMatchObject({ email });
    expect(created.body).not.toHaveProperty('hashedPassword');
    expectAppError(await t.http.post('/users').set(auth).send({ email: email.toUpperCase(), password: 'long enough pw' }), 409, 'USER_ALREADY_EXISTS');
    const invalid = await t.http.post('/users').set(auth).send({ email: 'not an email', password: 'x' });
    expectAppError(invalid, 400, 'VALIDATION_FAILED');
    expect(invalid.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'email' })]));
  });

  it('upserts: 201 when created, then 200', async () => {
    const email = uniqueEmail('upsert');
    await t.http.put('/users/upsert').set(auth).send({ email, defaults: { fullName: 'New' } }).expect(201);
    const updated = await t.http.put('/users/upsert').set(auth).send({ email, defaults: { fullName: 'Newer' } }).expect(200);
    expect(updated.body).toMatchObject({ email, fullName: 'Newer' });
  });

  it('sets the ETag on GET /users/:id and answers 412 to a stale If-Match', async () => {
    const { user } = await t.factories.createUser();
    const read = await t.http.get(`/users/${user.id}`).set(auth).expect(200);
    expect(read.headers.etag).toBe(`"${user.version}"`);
    const patched = await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', read.headers.etag).send({ fullName: 'After' }).expect(200);
    expect(patched.headers.etag).toBe(`"${user.version + 1}"`);
    expectAppError(await t.http.patch(`/users/${user.id}`).set(auth).set('If-Match', read.headers.etag).send({ fullName: 'Lost' }), 412, 'VERSION_CONFLICT');
  });

  it('streams the export as CSV and as JSON', async () => {
    const { user } = await t.factories.createUser({ fullName: 'Exported' });
    const csv = await t.http.get('/users/export?format=csv').set(auth).buffer(true).parse(asText).expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="users.csv"');
    expect((csv.body as string).split('\n')[0]).toMatch(/^id,email,/);
    expect(csv.body as string).toContain(user.email);
    const json = await t.http.get('/users/export?format=json').set(auth).expect(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body.find((u: { id: string }) => u.id === user.id)).toMatchObject({ email: user.email, fullName: 'Exported' });
  });

  it('imports text/csv and JSON, and refuses other media types (415)', async () => {
    const csvEmail = uniqueEmail('csv');
    const viaCsv = await t.http.post('/users/import').set(auth).set('content-type', 'text/csv').send(`email,fullName\n${csvEmail},"Doe, Jane"\n`).expect(201);
    expect(viaCsv.body.users[0]).toMatchObject({ email: csvEmail, fullName: 'Doe, Jane' });
    const jsonEmail = uniqueEmail('json');
    const viaJson = await t.http.post('/users/import').set(auth).send({ users: [{ email: jsonEmail }] }).expect(201);
    expect(viaJson.body).toMatchObject({ dryRun: false, count: 1, users: [{ email: jsonEmail }] });
    expectAppError(await t.http.post('/users/import').set(auth).set('content-type', 'application/xml').send('<users/>'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it("refuses a body over the route's limit with 413 and the app error body", async () => {
    const { user } = await t.factories.createUser();
    // PATCH /users/:id takes 64 KiB (a profile); this one is 70 KB.
    const res = await t.http.patch(`/users/${user.id}`).set(auth).send({ metadata: { note: 'x'.repeat(70_000) } });
    expectAppError(res, 413, 'PAYLOAD_TOO_LARGE');
    // A small route (8 KiB), before any authentication.
    expectAppError(await t.http.post('/auth/login').send({ email: 'a@example.com', password: 'p'.repeat(9000) }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it("takes a bulk body over the small limit and over Nest's default 100 KB, within the bulk limit", async () => {
    const body = importRows(1000);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(150_000);
    const res = await t.http.post('/users/import?dryRun=true').set(auth).send(body).expect(201);
    expect(res.body).toMatchObject({ dryRun: true, count: 1000 });
  });

  it('keeps the JSON bounds and the __proto__ refusal', async () => {
    const tooMany = await t.http.post('/users').set(auth).send({ email: uniqueEmail(), password: 'long enough pw', fullName: 'x', extra: Array(300).fill([]) });
    expectAppError(tooMany, 400, 'VALIDATION_FAILED');
    expect(tooMany.body.message).toMatch(/at most 256 values/);
    const proto = await t.http
      .post('/users')
      .set(auth)
      .set('content-type', 'application/json')
      .send(`{"email":"${uniqueEmail()}","password":"long enough pw","metadata":{"a":[{"__proto__":{"isAdmin":true}}]}}`);
    expectAppError(proto, 400, 'VALIDATION_FAILED');
    expect(proto.body.details).toEqual([{ field: 'metadata.a.0.__proto__', reason: expect.stringMatching(/reserved key/) }]);
    expectAppError(await t.http.post('/users').set(auth).set('content-type', 'application/json').send('{"email": '), 400, 'VALIDATION_FAILED');
  });

  it('answers 401 without a token and 403 to a non-admin', async () => {
    expectAppError(await t.http.get('/users'), 401, 'UNAUTHENTICATED');
    expectAppError(await t.http.post('/users').send({ email: uniqueEmail(), password: 'long enough pw' }), 401, 'UNAUTHENTICATED');
    const { user, password } = await t.factories.createUser({ roles: ['user'] });
    const token = await t.tokenFor(user, password);
    expectAppError(await t.http.get('/users').set('authorization', `Bearer ${token}`), 403, 'FORBIDDEN');
    expectAppError(await t.http.get('/users/export').set('authorization', `Bearer ${token}`), 403, 'FORBIDDEN');
  });
});

describe("the modules under Express with Nest's default body parsers (a host that kept them)", () => {
  let t: TestApp<NestExpressApplication>;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createExpressTestApp({}, { bodyParser: true });
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it("still applies the route's limit, the __proto__ refusal and the media types to what the host parsed", async () => {
    const { user } = await t.factories.createUser();
    expectAppError(await t.http.patch(`/users/${user.id}`).set(auth).send({ metadata: { note: 'x'.repeat(70_000) } }), 413, 'PAYLOAD_TOO_LARGE');
    const proto = await t.http.patch(`/users/${user.id}`).set(auth).set('content-type', 'application/json').send('{"metadata":{"__proto__":{"isAdmin":true}}}');
    expectAppError(proto, 400, 'VALIDATION_FAILED');
    expect(proto.body.details).toEqual([{ field: 'metadata.__proto__', reason: expect.stringMatching(/reserved key/) }]);
    expectAppError(await t.http.post('/users').set(auth).type('form').send({ email: uniqueEmail(), password: 'long enough pw' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('reads text/csv itself, which the default parsers leave alone', async () => {
    const email = uniqueEmail('csv');
    const res = await t.http.post('/users/import').set(auth).set('content-type', 'text/csv').send(`email\n${email}\n`).expect(201);
    expect(res.body.users[0]).toMatchObject({ email });
  });

  it("cannot take a bulk body over the host's own 100 KB json limit (README: create the app with bodyParser: false)", async () => {
    const res = await t.http.post('/users/import?dryRun=true').set(auth).send(importRows(1000));
    expect(res.status).toBe(413);
  });
});
