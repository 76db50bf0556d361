import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { startServiceOn, type ServiceProcess } from '../foundation/service-process';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { WebhookReceiver } from '../support/webhook-receiver';

// The built server is killed with SIGKILL once the webhook of a committed change reached the
// target, before the target answered: the delivery is not recorded, its lease expires, and the
// restarted server delivers the same event (same webhook-id) again.
describe('a webhook of a server killed before its delivery was recorded', () => {
  const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
  const ADMIN_PASSWORD = 'webhook kill admin password 1';
  let db: TestDatabase;
  let observer: Client;
  let receiver: WebhookReceiver;
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    observer = new Client({ connectionString: db.url });
    await observer.connect();
    // The first request is taken and never answered; later ones are answered 200.
    receiver = await WebhookReceiver.start((nth) => (nth === 0 ? 'hang' : 200));
  });

  afterAll(async () => {
    for (const server of running) if (server.running) server.signal('SIGKILL');
    await receiver.close();
    await observer.end();
    await db.drop();
  });

  async function startServer(): Promise<string> {
    const { server, port } = await startServiceOn(db.url, {
      logLevel: 'warn',
      adminEmail: 'root@example.com',
      adminPassword: ADMIN_PASSWORD,
      env: {
        EVENTS_POLL_INTERVAL_MS: '50',
        // The killed server's claim expires after this; a delivery gives up before it.
        EVENTS_LEASE_MS: '2000',
        EVENTS_HANDLER_TIMEOUT_MS: '1500',
        EVENTS_WEBHOOK_URL: receiver.url,
        EVENTS_WEBHOOK_SECRET: SECRET,
        EVENTS_WEBHOOK_TYPES: 'user.updated',
        EVENTS_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      },
    });
    running.push(server);
    return `http://127.0.0.1:${port}`;
  }

  it('delivers the event after the restart, with the same id, from one outbox row', async () => {
    const base = await startServer();
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@example.com', password: ADMIN_PASSWORD }),
    });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${((await login.json()) as { accessToken: string }).accessToken}` };
    const created = await fetch(`${base}/users`, { method: 'POST', headers, body: JSON.stringify({ email: 'killed@example.com', password: 'a long enough password 1' }) });
    const { id: userId } = (await created.json()) as { id: string };
    const renamed = await fetch(`${base}/users/${userId}`, { method: 'PATCH', headers, body: JSON.stringify({ fullName: 'Before the kill' }) });
    expect(renamed.status).toBe(200);

    await receiver.waitFor(1);
    running[0].signal('SIGKILL');
    await running[0].exit(10_000);
    const [first] = receiver.received;

    const events = await observer.query<{ id: string }>(`SELECT id::text FROM outbox WHERE user_id = $1 AND type = 'user.updated'`, [userId]);
    expect(events.rows).toHaveLength(1);
    const eventId = events.rows[0].id;
    expect(first.headers['webhook-id']).toBe(eventId);
    // Killed mid-delivery: nothing recorded but the claim.
    const before = await observer.query(`SELECT d.status, d.attempts FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.id = $1`, [eventId]);
    expect(before.rows).toEqual([{ status: 'pending', attempts: 1 }]);

    await startServer();
    const received = await receiver.waitFor(2, 20_000);
    expect(received.map((r) => r.headers['webhook-id'])).toEqual(received.map(() => eventId));
    const payload = new Webhook(SECRET).verify(received[1].body, received[1].headers as Record<string, string>);
    expect(payload).toMatchObject({ type: 'user.updated', data: { id: eventId, userId } });

    let after: { status: string; attempts: number }[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && after[0]?.status !== 'delivered'; await new Promise((r) => setTimeout(r, 50))) {
      after = (await observer.query(`SELECT d.destination, d.status, d.attempts FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.id = $1`, [eventId])).rows;
    }
    expect(after).toEqual([{ destination: 'webhook:env', status: 'delivered', attempts: 2 }]);
    expect((await observer.query(`SELECT 1 FROM outbox WHERE user_id = $1 AND type = 'user.updated'`, [userId])).rows).toHaveLength(1);
  }, 90_000);
});
