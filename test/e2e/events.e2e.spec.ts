import { DataSource } from 'typeorm';
import { createTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

interface EventRow {
  type: string;
  actor_id: string | null;
  request_id: string | null;
  changed_fields: string[];
}

// Events written by requests name who made the change and for which request.
describe('user lifecycle events over REST', () => {
  let t: TestApp;
  let auth: { authorization: string };
  let eventsOf: (userId: string) => Promise<EventRow[]>;

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
    const dataSource = t.app.get(DataSource);
    eventsOf = (userId) =>
      dataSource.query<EventRow[]>(`SELECT type, actor_id::text, request_id, changed_fields FROM outbox o WHERE o.user_id = $1 ORDER BY o.seq`, [userId]);
  });
  afterAll(() => t.close());

  it('records the acting admin and the request id on the events of admin routes, and the user on a login', async () => {
    const email = uniqueEmail('rest-events');
    const created = await t.http.post('/users').set(auth).set('x-request-id', 'create-req-1').send({ email, password: 'long enough pw 1', fullName: 'Ada' }).expect(201);
    const id = created.body.id as string;
    await t.http.patch(`/users/${id}`).set(auth).set('x-request-id', 'patch-req-2').send({ fullName: 'Ada L.' }).expect(200);
    await t.http.post('/auth/login').set('x-request-id', 'login-req-3').send({ email, password: 'long enough pw 1' }).expect(200);
    // A refused change writes nothing.
    await t.http.patch(`/users/${id}`).set(auth).send({ isAdmin: true }).expect(400);
    expect(await eventsOf(id)).toEqual([
      { type: 'user.created', actor_id: t.admin.id, request_id: 'create-req-1', changed_fields: [] },
      { type: 'user.updated', actor_id: t.admin.id, request_id: 'patch-req-2', changed_fields: ['fullName'] },
      { type: 'user.logged_in', actor_id: null, request_id: 'login-req-3', changed_fields: ['lastLoginAt'] },
    ]);
  });
});
