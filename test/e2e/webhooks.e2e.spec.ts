import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { WebhookSubscriptions } from '../../src/users/events/webhooks/webhook-subscriptions.service';
import { createTestApp, type TestApp } from '../harness/create-test-app';
import { WebhookReceiver } from '../support/webhook-receiver';

interface DeliveryItem {
  eventId: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

// Webhook subscriptions through the admin routes, delivered by the relay to real HTTP receivers
// on 127.0.0.1 (listed explicitly in the allow-list: loopback is internal).
describe('webhooks (/users/webhooks)', () => {
  const MAX_ATTEMPTS = 5;
  let t: TestApp;
  let auth: { authorization: string };
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    t = await createTestApp({
      eventsPollIntervalMs: 50,
      eventsBackoffMs: 20,
      eventsMaxAttempts: MAX_ATTEMPTS,
      eventsWebhookAllowedHosts: ['127.0.0.1', 'hooks.example.com'],
    });
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(async () => {
    await t.close();
    for (const receiver of receivers) await receiver.close();
  });

  // Through a connection of its own: what another instance would write.
  async function sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const db = new Client({ connectionString: t.config.databaseUrl });
    await db.connect();
    try {
      return (await db.query(text, params)).rows as T[];
    } finally {
      await db.end();
    }
  }

  async function receiver(answer?: (nth: number) => number | 'hang'): Promise<WebhookReceiver> {
    const started = await WebhookReceiver.start(answer);
    receivers.push(started);
    return started;
  }

  async function subscribe(url: string, types = ['user.updated']): Promise<{ id: string; secret: string }> {
    const res = await t.http.post('/users/webhooks').set(auth).send({ url, types }).expect(201);
    return res.body as { id: string; secret: string };
  }

  async function renameUser(): Promise<string> {
    const { user } = await t.factories.createUser();
    await t.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'Renamed' }).expect(200);
    return user.id;
  }

  async function deliveries(id: string, query = ''): Promise<DeliveryItem[]> {
    return (await t.http.get(`/users/webhooks/${id}/deliveries${query}`).set(auth).expect(200)).body.items as DeliveryItem[];
  }

  async function settled(id: string, status: string, query = ''): Promise<DeliveryItem[]> {
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
      const items = await deliveries(id, query);
      if (items.length > 0 && items.every((d) => d.status === status)) return items;
    }
    throw new Error(`the deliveries of ${id} did not become ${status}: ${JSON.stringify(await deliveries(id, query))}`);
  }

  it('retries a target that fails 3 times, then delivers the same signed event (webhook-id) once it succeeds', async () => {
    const target = await receiver((nth) => (nth < 3 ? 500 : 200));
    const created = await subscribe(target.url);
    expect(created).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), url: target.url, types: ['user.updated'], enabled: true, source: 'api', createdBy: t.admin.id });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const userId = await renameUser();
    const received = await target.waitFor(4);
    const ids = received.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    const last = received[3];
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['webhook-signature']).toMatch(/^v1,/);
    const payload = new Webhook(created.secret).verify(last.body, last.headers as Record<string, string>);
    expect(payload).toEqual({
      type: 'user.updated',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      data: expect.objectContaining({ id: ids[0], type: 'user.updated', userId, changedFields: ['fullName'], actorId: t.admin.id, version: 2 }),
    });
    // Another secret does not verify it.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(last.body, last.headers as Record<string, string>)).toThrow();

    expect(await settled(created.id, 'delivered')).toEqual([expect.objectContaining({ eventId: ids[0], status: 'delivered', attempts: 4 })]);
    const detail = await t.http.get(`/users/webhooks/${created.id}`).set(auth).expect(200);
    expect(detail.body).toMatchObject({ id: created.id, deliveries: { pending: 0, delivered: 1, dead: 0 } });
    expect(detail.body).not.toHaveProperty('secret');
    const list = await t.http.get('/users/webhooks').set(auth).expect(200);
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.secret.slice(6));
  });

  it('dead-letters after the last attempt, lists it, and delivers it again on replay', async () => {
    let healthy = false;
    const target = await receiver(() => (healthy ? 200 : 500));
    const { id, secret } = await subscribe(target.url);
    await renameUser();
    const [dead] = await settled(id, 'dead', '?status=dead');
    expect(dead).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS, lastError: 'webhook answered 500' });
    expect(target.received).toHaveLength(MAX_ATTEMPTS);
    expect((await t.http.get(`/users/webhooks/${id}`).set(auth).expect(200)).body.deliveries).toEqual({ pending: 0, delivered: 0, dead: 1 });

    healthy = true;
    await expect(t.http.post(`/users/webhooks/${id}/replay`).set(auth).send({ eventId: dead.eventId }).expect(202)).resolves.toMatchObject({ body: { replayed: 1 } });
    const received = await target.waitFor(MAX_ATTEMPTS + 1);
    const again = received[MAX_ATTEMPTS];
    expect(again.headers['webhook-id']).toBe(dead.eventId);
    expect(() => new Webhook(secret).verify(again.body, again.headers as Record<string, string>)).not.toThrow();
    expect(await settled(id, 'delivered')).toEqual([expect.objectContaining({ eventId: dead.eventId, attempts: 1 })]);

    const unknown = await t.http.post(`/users/webhooks/${id}/replay`).set(auth).send({ eventId: '00000000-0000-4000-8000-000000000000' }).expect(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });

  it('refuses targets outside the allow-list, with credentials, or not http(s), at creation', async () => {
    for (const url of ['http://hooks.other.example/in', 'http://10.0.0.1/in', 'http://127.0.0.2/in', 'http://[::1]/in', 'http://user:pw@hooks.example.com/in', 'ftp://hooks.example.com/in', 'not a url']) {
      const res = await t.http.post('/users/webhooks').set(auth).send({ url }).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field: 'url' })] });
    }
    await t.http.post('/users/webhooks').set(auth).send({ url: 'https://hooks.example.com/in', types: ['user.exploded'] }).expect(400);
  });

  it('refuses at delivery a target the allow-list does not (or no longer) cover, without sending anything', async () => {
    // A subscription stored under an earlier, wider allow-list (or by an instance configured so).
    const [{ id }] = await sql<{ id: string }>(`INSERT INTO webhooks (url, secret, types) VALUES ('http://10.0.0.1:9/in', $1, '{user.updated}') RETURNING id::text`, [
      `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
    ]);
    // Another instance's change, which this one picks up on its next refresh (every few seconds): now.
    await t.app.get(WebhookSubscriptions).refresh();
    await renameUser();
    const [dead] = await settled(id, 'dead', '?status=dead');
    expect(dead.lastError).toBe('host 10.0.0.1 is not in the webhook allow-list');
  });

  it('routes events to a subscription another instance made, before this one has loaded it', async () => {
    const target = await receiver(() => 200);
    const secret = `whsec_${Buffer.alloc(24, 4).toString('base64')}`;
    const [{ id }] = await sql<{ id: string }>(`INSERT INTO webhooks (url, secret, types) VALUES ($1, $2, '{user.updated}') RETURNING id::text`, [target.url, secret]);
    const userId = await renameUser();
    // Routed by now (this instance's relay is woken by the commit), with the subscription not loaded here.
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      if ((await sql(`SELECT 1 FROM outbox WHERE user_id = $1 AND fanned_out_at IS NOT NULL`, [userId])).length > 0) break;
    }
    await t.app.get(WebhookSubscriptions).refresh();
    const [event] = await target.waitFor(1);
    expect(new Webhook(secret).verify(event.body, event.headers as Record<string, string>)).toMatchObject({ data: { userId } });
    expect(await settled(id, 'delivered')).toHaveLength(1);
  });

  it('stops delivering to a deleted subscription, whose deliveries stay listed', async () => {
    const target = await receiver(() => 200);
    const { id } = await subscribe(target.url);
    await renameUser();
    await settled(id, 'delivered');
    await t.http.delete(`/users/webhooks/${id}`).set(auth).expect(204);
    await t.http.delete(`/users/webhooks/${id}`).set(auth).expect(404);
    expect((await t.http.get('/users/webhooks').set(auth).expect(200)).body.items.map((w: { id: string }) => w.id)).not.toContain(id);
    await renameUser();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(target.received).toHaveLength(1);
    expect((await t.http.get(`/users/webhooks/${id}`).set(auth).expect(200)).body).toMatchObject({ enabled: false, deliveries: { delivered: 1 } });
    await t.http.get('/users/webhooks/00000000-0000-4000-8000-000000000000').set(auth).expect(404);
    await t.http.get('/users/webhooks/not-an-id').set(auth).expect(404);
  });
});
