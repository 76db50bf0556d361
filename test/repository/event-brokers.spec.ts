import { randomUUID } from 'node:crypto';
import { connect as amqpConnect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { connect as natsConnect, type JsMsg, type NatsConnection } from 'nats';
import type { UserEvent } from '../../src/users/events/user-event';
import { UsersEvents } from '../../src/users/events/users-events.service';
import type { UsersModuleSettings } from '../../src/users/users.options';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { TcpProxy } from '../support/tcp-proxy';
import { until } from '../support/until';
import { createTestDatabase } from '../support/test-database';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

// The brokers run on every machine of this project and in CI (README "Brokers").
const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

// Names of this run only, so that parallel runs never read each other's events.
const run = randomUUID().replace(/-/g, '').slice(0, 10);
const fast = { pollIntervalMs: 50, backoffMs: 20, maxBackoffMs: 200, maxAttempts: 100, leaseMs: 5000, handlerTimeoutMs: 2000 };
type Events = NonNullable<UsersModuleSettings['events']>;

const deliveriesOf = (ctx: RepositoryContext, destination: string) =>
  ctx.sql<{ id: string; user_id: string; status: string; attempts: number; last_error: string | null }>(
    `SELECT o.id::text, o.user_id::text, d.status, d.attempts, d.last_error FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE d.destination = $1 ORDER BY o.seq`,
    [destination],
  );

// A queue of this test bound to the exchange with `#`, filled as messages arrive.
class AmqpConsumer {
  readonly received: ConsumeMessage[] = [];
  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async bind(exchange: string): Promise<AmqpConsumer> {
    const connection = await amqpConnect(AMQP_URL);
    const channel = await connection.createChannel();
    // As the app asserts it: a consumer may come first.
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, exchange, '#');
    const consumer = new AmqpConsumer(connection, channel);
    await channel.consume(queue, (message) => void (message && consumer.received.push(message)), { noAck: true });
    return consumer;
  }

  ids(): string[] {
    return this.received.map((m) => m.properties.messageId as string);
  }

  async close(deleteExchange?: string): Promise<void> {
    if (deleteExchange) await this.channel.deleteExchange(deleteExchange);
    await this.connection.close();
  }
}

describe('user lifecycle events: brokers', () => {
  let nats: NatsConnection;

  beforeAll(async () => {
    nats = await natsConnect({ servers: NATS_URL });
  });
  afterAll(() => nats.close());

  describe('one instance publishing to NATS JetStream and RabbitMQ', () => {
    const subjectPrefix = `test_${run}.users.events`;
    const stream = `USERS_EVENTS_TEST_${run}`;
    const exchange = `users.events.test.${run}`;
    let ctx: RepositoryContext;
    let rabbit: AmqpConsumer;

    beforeAll(async () => {
      rabbit = await AmqpConsumer.bind(exchange);
      ctx = await createRepositoryContext({}, { settings: { events: { ...fast, nats: { url: NATS_URL, subjectPrefix, stream }, amqp: { url: AMQP_URL, exchange } } } });
    });
    afterAll(async () => {
      await ctx.close();
      await rabbit.close(exchange);
      await (await nats.jetstreamManager()).streams.delete(stream);
    });

    it('publishes every event, once the broker confirmed it, with the event id as message id and its JSON as body', async () => {
      const user = await createUser(ctx.users);
      await ctx.users.partialUpdateUser(user.id, { fullName: 'Brokered' });
      await ctx.users.deactivateUser(user.id);
      const expected = ['user.created', 'user.updated', 'user.deactivated'];
      for (const destination of ['broker:nats', 'broker:amqp']) {
        const rows = await until(
          () => deliveriesOf(ctx, destination),
          (r) => r.length === 3 && r.every((d) => d.status === 'delivered'),
        );
        expect(rows.map((d) => [d.status, d.attempts])).toEqual(Array(3).fill(['delivered', 1]));
      }
      const ids = (await deliveriesOf(ctx, 'broker:nats')).map((d) => d.id);

      // NATS: the stream the relay created captures `<prefix>.>`; a consumer reads them in order.
      const jsm = await nats.jetstreamManager();
      expect((await jsm.streams.info(stream)).config.subjects).toEqual([`${subjectPrefix}.>`]);
      const consumer = await nats.jetstream().consumers.get(stream);
      const messages: JsMsg[] = [];
      for (let i = 0; i < 3; i++) {
        const message = await consumer.next({ expires: 5000 });
        if (message) messages.push(message);
      }
      expect(messages.map((m) => m.subject)).toEqual(expected.map((type) => `${subjectPrefix}.${type}`));
      expect(messages.map((m) => m.headers?.get('Nats-Msg-Id'))).toEqual(ids);
      const body = messages[1].json<Record<string, unknown>>();
      expect(body).toEqual({
        id: ids[1],
        type: 'user.updated',
        userId: user.id,
        occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        actorId: null,
        requestId: null,
        version: 2,
        changedFields: ['fullName'],
        sequence: expect.stringMatching(/^\d+$/),
      });
      expect(await consumer.next({ expires: 1000 })).toBeNull();

      // RabbitMQ: routing key = type, persistent, JSON, the same body.
      await until(
        () => rabbit.received.length,
        (n) => n >= 3,
      );
      expect(rabbit.received.map((m) => [m.fields.exchange, m.fields.routingKey, m.properties.messageId, m.properties.type, m.properties.contentType, m.properties.deliveryMode])).toEqual(
        expected.map((type, i) => [exchange, type, ids[i], type, 'application/json', 2]),
      );
      expect(JSON.parse(rabbit.received[1].content.toString())).toEqual(body);
    });
  });

  describe('two instances relaying one outbox', () => {
    const exchange = `users.events.test.${run}.shared`;
    let a: RepositoryContext;
    let b: RepositoryContext;
    let rabbit: AmqpConsumer;

    beforeAll(async () => {
      rabbit = await AmqpConsumer.bind(exchange);
      const database = await createTestDatabase();
      // Small batches, so that both instances claim from the same backlog.
      const events: Events = { ...fast, batchSize: 10, amqp: { url: AMQP_URL, exchange } };
      a = await createRepositoryContext({}, { database, keepDatabase: true, settings: { events } });
      b = await createRepositoryContext({}, { database, settings: { events } });
    });
    afterAll(async () => {
      await a.close();
      await b.close();
      await rabbit.close(exchange);
    });

    it('publishes each event id exactly once (RabbitMQ does not de-duplicate)', async () => {
      const published = new Map<RepositoryContext, number>([
        [a, 0],
        [b, 0],
      ]);
      for (const ctx of [a, b]) {
        // Counts the hand-overs of each instance, then publishes as before.
        const destination = ctx.module.get(UsersEvents).get('broker:amqp')!;
        const deliver = destination.deliver.bind(destination);
        destination.deliver = (event: UserEvent, signal: AbortSignal) => {
          published.set(ctx, published.get(ctx)! + 1);
          return deliver(event, signal);
        };
      }
      const hash = await factoryPasswordHash();
      // 200 users written through both instances at once, 10 per statement.
      await Promise.all(
        [a, b].map(async (ctx) => {
          for (let chunk = 0; chunk < 10; chunk++) {
            await ctx.users.bulkCreateUsers(Array.from({ length: 10 }, () => ({ email: uniqueEmail('shared'), hashedPassword: hash })));
          }
        }),
      );
      const rows = await until(
        () => deliveriesOf(a, 'broker:amqp'),
        (r) => r.length === 200 && r.every((d) => d.status === 'delivered'),
        30_000,
      );
      expect(rows.filter((d) => d.status === 'delivered')).toHaveLength(200);
      await until(
        () => rabbit.received.length,
        (n) => n >= 200,
      );
      // Anything published twice would have arrived by now too.
      await new Promise((resolve) => setTimeout(resolve, 300));

      const perId = new Map<string, number>();
      for (const id of rabbit.ids()) perId.set(id, (perId.get(id) ?? 0) + 1);
      expect(rabbit.received).toHaveLength(200);
      expect([...perId.values()].every((n) => n === 1)).toBe(true);
      expect([...perId.keys()].sort()).toEqual(rows.map((d) => d.id).sort());
      expect(published.get(a)! + published.get(b)!).toBe(200);
      expect(published.get(a)).toBeGreaterThan(0);
      expect(published.get(b)).toBeGreaterThan(0);
    });
  });

  describe('a broker that is unreachable', () => {
    it('lets the app start, fails and retries the deliveries, and delivers them once RabbitMQ is back, in order', async () => {
      const exchange = `users.events.test.${run}.outage`;
      const rabbit = await AmqpConsumer.bind(exchange);
      const proxy = await TcpProxy.start(new URL(AMQP_URL));
      proxy.switchTo('refuse');
      const ctx = await createRepositoryContext({}, { settings: { events: { ...fast, amqp: { url: proxy.url(AMQP_URL), exchange } } } });
      try {
        const user = await createUser(ctx.users);
        await ctx.users.partialUpdateUser(user.id, { fullName: 'While down' });
        const failing = await until(
          () => deliveriesOf(ctx, 'broker:amqp'),
          (r) => (r[0]?.attempts ?? 0) >= 3,
        );
        expect(failing[0]).toMatchObject({ status: 'pending', last_error: expect.any(String) });
        // Held back behind the user's first event.
        expect(failing[1]).toMatchObject({ status: 'pending', attempts: 0 });
        expect(rabbit.received).toEqual([]);

        proxy.switchTo('forward');
        await until(
          () => rabbit.received.length,
          (n) => n >= 2,
        );
        const ids = (await deliveriesOf(ctx, 'broker:amqp')).map((d) => d.id);
        expect(rabbit.received.map((m) => [m.fields.routingKey, m.properties.messageId])).toEqual([
          ['user.created', ids[0]],
          ['user.updated', ids[1]],
        ]);

        // A dropped connection: the next deliveries fail until a new one is open.
        proxy.switchTo('refuse');
        await ctx.users.deactivateUser(user.id);
        await until(
          () => deliveriesOf(ctx, 'broker:amqp'),
          (r) => (r[2]?.attempts ?? 0) >= 2,
        );
        expect(rabbit.received).toHaveLength(2);
        proxy.switchTo('forward');
        await until(
          () => rabbit.received.length,
          (n) => n >= 3,
        );
        expect(rabbit.received.map((m) => m.fields.routingKey)).toEqual(['user.created', 'user.updated', 'user.deactivated']);
        // Recorded once the round that published it ends (the consumer may see it first).
        const recorded = await until(
          () => deliveriesOf(ctx, 'broker:amqp'),
          (r) => r.every((d) => d.status === 'delivered'),
        );
        expect(recorded.map((d) => d.status)).toEqual(['delivered', 'delivered', 'delivered']);
      } finally {
        await ctx.close();
        await proxy.close();
        await rabbit.close(exchange);
      }
    });

    it('with createStream: false, fails the deliveries while the stream is missing, and says why', async () => {
      const stream = `USERS_EVENTS_TEST_${run}_MISSING`;
      const ctx = await createRepositoryContext({}, { settings: { events: { ...fast, nats: { url: NATS_URL, subjectPrefix: `test_${run}.missing`, stream, createStream: false } } } });
      try {
        await createUser(ctx.users);
        const [row] = await until(
          () => deliveriesOf(ctx, 'broker:nats'),
          (r) => (r[0]?.attempts ?? 0) >= 2,
        );
        expect(row).toMatchObject({ status: 'pending', last_error: `the JetStream stream ${stream} does not exist (createStream is false)` });
        await expect((await nats.jetstreamManager()).streams.info(stream)).rejects.toThrow('stream not found');
      } finally {
        await ctx.close();
      }
    });

    it('lets the app start with NATS down, delivers once NATS is reachable (the stream made then), and again after a dropped connection', async () => {
      const subjectPrefix = `test_${run}.outage`;
      const stream = `USERS_EVENTS_TEST_${run}_OUTAGE`;
      const proxy = await TcpProxy.start(new URL(NATS_URL));
      proxy.switchTo('refuse');
      const ctx = await createRepositoryContext({}, { settings: { events: { ...fast, nats: { url: proxy.url(NATS_URL), subjectPrefix, stream } } } });
      const jsm = await nats.jetstreamManager();
      try {
        const user = await createUser(ctx.users);
        await until(
          () => deliveriesOf(ctx, 'broker:nats'),
          (r) => (r[0]?.attempts ?? 0) >= 2,
        );
        proxy.switchTo('forward');
        const rows = await until(
          () => deliveriesOf(ctx, 'broker:nats'),
          (r) => r[0]?.status === 'delivered',
        );
        expect(rows).toEqual([expect.objectContaining({ user_id: user.id, status: 'delivered' })]);

        // A dropped connection: the client reconnects by itself; a publish whose ack did not come
        // in time is retried, and the stream keeps one copy of it (same Nats-Msg-Id).
        proxy.switchTo('refuse');
        await ctx.users.deactivateUser(user.id);
        await until(
          () => deliveriesOf(ctx, 'broker:nats'),
          (r) => (r[1]?.attempts ?? 0) >= 1,
        );
        proxy.switchTo('forward');
        const after = await until(
          () => deliveriesOf(ctx, 'broker:nats'),
          (r) => r[1]?.status === 'delivered',
        );
        expect(after.map((d) => d.status)).toEqual(['delivered', 'delivered']);

        const consumer = await nats.jetstream().consumers.get(stream);
        const ids: (string | undefined)[] = [];
        for (let message = await consumer.next({ expires: 2000 }); message; message = await consumer.next({ expires: 1000 })) {
          ids.push(message.headers?.get('Nats-Msg-Id'));
        }
        expect(ids).toEqual(after.map((d) => d.id));
      } finally {
        await ctx.close();
        await proxy.close();
        await jsm.streams.delete(stream).catch(() => undefined);
      }
    });
  });
});
