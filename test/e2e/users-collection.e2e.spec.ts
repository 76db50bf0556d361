import { DataSource } from 'typeorm';
import { createTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

const HASH = /\$argon2|\$2[aby]\$/;

describe('/users (collection routes)', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('lists with filters, parsing query strings strictly', async () => {
    await t.factories.createUser({ isActive: false, roles: ['user', 'auditor'] });
    const inactive = await t.http.get('/users?isActive=false').set(auth).expect(200);
    expect(inactive.body.items.length).toBeGreaterThan(0);
    expect(inactive.body.items.every((u: { isActive: boolean }) => !u.isActive)).toBe(true);
    const auditors = await t.http.get('/users?role=auditor&isActive=false').set(auth).expect(200);
    expect(auditors.body.total).toBe(1);
    const ranged = await t.http.get(`/users?createdFrom=2000-01-01T00:00:00Z&createdTo=2999-01-01T00:00:00Z`).set(auth).expect(200);
    expect(ranged.body.total).toBeGreaterThan(1);
    for (const bad of ['limit=-1', 'limit=1e9', 'limit=1&limit=2', 'offset=abc', 'isActive=yes', 'createdFrom=yesterday', 'unknown=1']) {
      const res = await t.http.get(`/users?${bad}`).set(auth);
      expect([bad, res.status]).toEqual([bad, 400]);
    }
    await t.http.get('/users?createdFrom=2030-01-01T00:00:00Z&createdTo=2020-01-01T00:00:00Z').set(auth).expect(400);
  });

  it('pages by keyset', async () => {
    const first = await t.http.get('/users/keyset?limit=1').set(auth).expect(200);
    expect(first.body.items).toHaveLength(1);
    const second = await t.http.get(`/users/keyset?limit=1&after=${first.body.nextCursor}`).set(auth).expect(200);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
    await t.http.get('/users/keyset?after=garbage').set(auth).expect(400);
  });

  it('searches, counts, filters by custom field, reports signups and email availability', async () => {
    const email = uniqueEmail('findme');
    const { user } = await t.factories.createUser({ email, fullName: 'Grace 100% Hopper' });
    await t.users.partialUpdateUser(user.id, { metadata: { plan: 'pro', seats: 3 } });
    const found = await t.http.get('/users/search?q=100%25').set(auth).expect(200);
    expect(found.body.items.map((u: { id: string }) => u.id)).toEqual([user.id]);
    await t.http.get('/users/search').set(auth).expect(400);
    const count = await t.http.get('/users/count').set(auth).expect(200);
    expect(count.body.count).toBeGreaterThanOrEqual(2);
    const byField = await t.http.get('/users/by-field?field=plan&value=pro').set(auth).expect(200);
    expect(byField.body.items.map((u: { id: string }) => u.id)).toEqual([user.id]);
    const bySeats = await t.http.get('/users/by-field?field=seats&value=3').set(auth).expect(200);
    expect(bySeats.body.total).toBe(1);
    await t.http.get('/users/by-field?field=bad-name&value=1').set(auth).expect(400);
    const year = new Date().getUTCFullYear();
    const signups = await t.http.get(`/users/stats/signups?year=${year}`).set(auth).expect(200);
    expect(Object.keys(signups.body)).toHaveLength(12);
    expect(signups.body[String(new Date().getUTCMonth() + 1)]).toBeGreaterThanOrEqual(2);
    await t.http.get('/users/stats/signups?year=abc').set(auth).expect(400);
    const taken = await t.http.get(`/users/email-availability?email=${encodeURIComponent(email.toUpperCase())}`).set(auth).expect(200);
    expect(taken.body).toEqual({ available: false });
    const mine = await t.http.get(`/users/email-availability?email=${encodeURIComponent(email)}&excludeUserId=${user.id}`).set(auth).expect(200);
    expect(mine.body).toEqual({ available: true });
  });

  it('bulk-creates, bulk-updates and bulk-deletes', async () => {
    const emails = [uniqueEmail('b1'), uniqueEmail('b2')];
    const created = await t.http.post('/users/bulk').set(auth).send({ users: emails.map((email) => ({ email, password: 'bulk password 1' })) }).expect(201);
    expect(created.body).toHaveLength(2);
    expect(JSON.stringify(created.body)).not.toMatch(HASH);
    const ids = created.body.map((u: { id: string }) => u.id);
    const dup = await t.http.post('/users/bulk').set(auth).send({ users: [{ email: emails[0], password: 'bulk password 1' }] }).expect(409);
    expect(dup.body.details.conflicts).toEqual([{ email: emails[0], index: 0 }]);
    const invalid = await t.http.post('/users/bulk').set(auth).send({ users: [{ email: 'x' }, { email: uniqueEmail(), password: 'bulk password 1', extra: 1 }] }).expect(400);
    expect(invalid.body.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['users.0.email', 'users.1.extra']));
    const updated = await t.http.patch('/users/bulk').set(auth).send({ ids, data: { isActive: false } }).expect(200);
    expect(updated.body.every((u: { isActive: boolean }) => !u.isActive)).toBe(true);
    await t.http.patch('/users/bulk').set(auth).send({ ids, data: { email: 'a@b.co' } }).expect(400);
    await t.http.post('/users/bulk-delete').set(auth).send({ ids }).expect(204);
    await t.http.get(`/users/${ids[0]}`).set(auth).expect(404);
    // A bulk request writes one audit row per target, on that user's history.
    const rows: { action: string; details: { targetIds: string[]; count: number } }[] = await t.app
      .get(DataSource)
      .query(`SELECT action, details FROM audit_log WHERE user_id = $1 ORDER BY id`, [ids[0]]);
    expect(rows.map((r) => r.action)).toEqual(['users.bulk-create', 'users.bulk-update', 'users.bulk-update.rejected', 'users.bulk-delete']);
    expect(rows.map((r) => [r.details.targetIds, r.details.count])).toEqual(Array(4).fill([[ids[0]], 2]));
    await t.http.post('/users/bulk-delete').set(auth).send({ ids: [t.admin.id] }).expect(403);
  });

  it('exports CSV and JSON as attachments without hashes, and imports them back', async () => {
    const { user } = await t.factories.createUser({ fullName: '=cmd|calc' });
    const csv = await t.http.get('/users/export?format=csv').set(auth).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done(null, text));
    }).expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="users.csv"');
    expect(csv.body as string).toContain(user.email);
    expect(csv.body as string).toContain(`"'=cmd|calc"`);
    expect(csv.body as string).not.toMatch(HASH);
    const json = await t.http.get('/users/export?format=json').set(auth).expect(200);
    expect(json.body.map((u: { id: string }) => u.id)).toContain(user.id);
    expect(JSON.stringify(json.body)).not.toMatch(HASH);
    await t.http.get('/users/export?format=xml').set(auth).expect(400);
    // An export goes back in as it came out (validated in a dry run: these users all exist).
    const roundTrip = await t.http.post('/users/import?onConflict=update&dryRun=true').set(auth).send({ users: json.body }).expect(201);
    expect(roundTrip.body.count).toBe(json.body.length);

    const fresh = uniqueEmail('import');
    const dry = await t.http.post('/users/import?dryRun=true').set(auth).send({ users: [{ email: fresh }] }).expect(201);
    expect(dry.body).toMatchObject({ dryRun: true, count: 1 });
    await t.http.get(`/users/email-availability?email=${encodeURIComponent(fresh)}`).set(auth).expect(200, { available: true });
    const imported = await t.http.post('/users/import').set(auth).send({ users: [{ email: fresh, fullName: 'Imported' }] }).expect(201);
    expect(imported.body).toMatchObject({ dryRun: false, count: 1 });
    const csvEmail = uniqueEmail('csvimport');
    const viaCsv = await t.http.post('/users/import').set(auth).set('content-type', 'text/csv').send(`email,fullName\n${csvEmail},"Doe, Jane"\n`).expect(201);
    expect(viaCsv.body.users[0]).toMatchObject({ email: csvEmail, fullName: 'Doe, Jane' });
    const conflict = await t.http.post('/users/import?onConflict=skip').set(auth).send({ users: [{ email: fresh }] }).expect(201);
    expect(conflict.body.count).toBe(0);
    const bad = await t.http.post('/users/import').set(auth).send({ users: [{ email: 'bad' }, { email: uniqueEmail(), password: 'short' }] }).expect(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    for (const type of ['application/xml', 'text/plain']) {
      const wrongType = await t.http.post('/users/import').set(auth).set('content-type', type).send('<users/>');
      expect([type, wrongType.status, wrongType.body.code]).toEqual([type, 415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
  });
});

describe('/users bad input', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('answers 400, never 500, for values PostgreSQL would refuse', async () => {
    const { user } = await t.factories.createUser();
    const cursor = Buffer.from(JSON.stringify(['2024-02-31T00:00:00.000000Z', user.id])).toString('base64url');
    const cases = [
      t.http.get('/users/search?q=a%00b'),
      t.http.get(`/users/keyset?after=${cursor}`),
      t.http.get('/users/by-field?field=plan&value=%22a%5Cu0000b%22'),
      t.http.get('/users?createdFrom=2024-02-31T00:00:00Z'),
      t.http.patch(`/users/${user.id}`).send({ metadata: { note: 'a\u0000b' } }),
      t.http.post('/users/import').send({ users: [{ email: uniqueEmail(), createdAt: '2024-02-31T00:00:00Z' }] }),
      t.http.put('/users/upsert').send({ email: uniqueEmail(), defaults: { metadata: { x: '\u0000' } } }),
    ];
    for (const call of cases) {
      const res = await call.set(auth);
      expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });
});

describe('/users deeply nested bodies', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('are refused with 400 before validation, while ordinary nesting passes', async () => {
    const { user } = await t.factories.createUser();
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const deep = `{"metadata":{"a":${'['.repeat(2000)}${']'.repeat(2000)}}}`;
    const res = await t.http.patch(`/users/${user.id}`).set(auth).set('content-type', 'application/json').send(deep);
    expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    await t.http.patch(`/users/${user.id}`).set(auth).send({ metadata: { a: { b: { c: [1, [2, [3]]] } } } }).expect(200);
    await t.http.patch(`/users/${user.id}`).set(auth).set('content-type', 'application/json').send('{"fullName":').expect(400);
    await t.http.patch(`/users/${user.id}`).set(auth).set('content-type', 'application/json').send('{"__proto__":{"x":1}}').expect(400);
  });
});
