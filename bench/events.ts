import { Inject, Injectable, Module, type DynamicModule, type INestApplicationContext, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebhookAllowList } from '../src/users/events/webhooks/webhook-allow-list';
import { newWebhookSecret, WebhookDestination } from '../src/users/events/webhooks/webhook-destination';
import { usersModuleSettings } from '../src/app.module';
import { UsersModule } from '../src/users/users.module';
import type { UsersModuleSettings } from '../src/users/users.options';

type EventsOptions = NonNullable<UsersModuleSettings['events']>;
import { UsersEvents, type EventDestination } from '../src/users/events/users-events.service';
import type { PreparedNewUser } from '../src/users/repository/user-writes';
import type { NewUser } from '../src/users/user.model';
import { UsersRepository } from '../src/users/users.repository';
import type { BenchContext } from './context';
import { elapsedMs, rotatedRuns } from './measure';
import { row, skipped, type Row } from './report';
import * as amqp from 'amqplib';
import { connect as connectNats } from 'nats';

const DESTINATION = Symbol('bench:eventDestination');

// Registers the bench's destination in onModuleInit, as a sibling module would: before the
// relay's first round.
@Injectable()
class DestinationProbe implements OnModuleInit {
  constructor(
    private readonly events: UsersEvents,
    @Inject(DESTINATION) private readonly destination: EventDestination | null,
  ) {}

  onModuleInit(): void {
    if (this.destination) this.events.add(this.destination);
  }
}

@Module({})
class EventsBenchModule {
  static with(ctx: BenchContext, events: EventsOptions, destination: EventDestination | null): DynamicModule {
    // A pool of its own, as a second service on the same database would have.
    const { bootstrapAdmin: _admin, ...settings } = usersModuleSettings(ctx.config);
    const users = UsersModule.forRoot({
      ...settings,
      routes: false,
      isGlobal: true,
      database: { url: ctx.config.databaseUrl!, poolMax: ctx.config.databasePoolMax },
      migrationsRun: false,
      events,
    });
    return {
      module: EventsBenchModule,
      imports: [users],
      providers: [{ provide: DESTINATION, useValue: destination }, DestinationProbe],
    };
  }
}

// A UsersModule of its own on the bench database, with these event settings (and a destination).
async function moduleContext(ctx: BenchContext, events: EventsOptions, destination: EventDestination | null = null): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(EventsBenchModule.with(ctx, events, destination), { logger: false });
}

const tagged = (tag: string, count: number): PreparedNewUser[] =>
  Array.from({ length: count }, (_, i) => {
    const email = `events.${tag}.${i}@bench.example.net`;
    return { email, emailNormalized: email, fullName: `Event User ${i}`, hashedPassword: '' };
  });

async function removeTagged(ctx: BenchContext, tag: string): Promise<void> {
  await ctx.bare.query(`DELETE FROM users WHERE email_normalized LIKE $1`, [`events.${tag}.%`]);
}

// Single creates, 10 at a time (as concurrent requests would send them), per second.
async function createsPerSecond(ctx: BenchContext, users: UsersRepository, tag: string, count: number): Promise<number> {
  const prepared = tagged(tag, count).map((u) => ({ ...u, hashedPassword: ctx.hashedPassword }));
  try {
    let next = 0;
    const ms = await elapsedMs(() =>
      Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < prepared.length) await users.insertNewUser(prepared[next++]);
        }),
      ),
    );
    return count / (ms / 1000);
  } finally {
    await removeTagged(ctx, tag);
  }
}

async function bulkRowsPerSecond(ctx: BenchContext, users: UsersRepository, tag: string): Promise<number> {
  const batch: NewUser[] = tagged(tag, ctx.options.bulkRows).map((u) => ({ email: u.email, fullName: u.fullName, hashedPassword: ctx.hashedPassword }));
  try {
    const ms = await elapsedMs(() => users.bulkCreateUsers(batch));
    return batch.length / (ms / 1000);
  } finally {
    await removeTagged(ctx, tag);
  }
}

// Writes with events on against the same writes with events off, each on a module of its own.
export async function eventWriteRows(ctx: BenchContext): Promise<Row[]> {
  const on = await moduleContext(ctx, { enabled: true, relay: false });
  const off = await moduleContext(ctx, { enabled: false, relay: false });
  try {
    const withEvents = on.get(UsersRepository);
    const without = off.get(UsersRepository);
    const creates = ctx.options.smoke ? 100 : 2000;
    const none = { run: async () => 0, budgetSeconds: 0 };
    const single = await rotatedRuns(
      ctx.options.runs,
      (run) => createsPerSecond(ctx, withEvents, `on.${run}`, creates),
      (run) => createsPerSecond(ctx, without, `off.${run}`, creates),
      none,
    );
    const bulk = await rotatedRuns(
      ctx.options.runs,
      (run) => bulkRowsPerSecond(ctx, withEvents, `bulk-on.${run}`),
      (run) => bulkRowsPerSecond(ctx, without, `bulk-off.${run}`),
      none,
    );
    return [
      row({ name: 'events on: single creates', unit: 'creates/s', goal: '>= 0.9', ours: single.ours, reference: single.reference, note: `insertNewUser, ${creates} per run, 10 at a time; reference: the same with events off` }),
      row({ name: 'events on: bulkCreateUsers', unit: 'rows/s', goal: '>= 0.9', ours: bulk.ours, reference: bulk.reference, note: `${ctx.options.bulkRows} rows per run; reference: the same with events off` }),
    ];
  } finally {
    await on.close();
    await off.close();
  }
}

// Events delivered per second by one relay to a destination, from a backlog of events written
// while no relay ran (the case after an outage, and the relay's ceiling): from the first delivery
// recorded to the last, as the outbox's delivery times say (a batch's outcomes share one time).
export async function relayThroughput(ctx: BenchContext, name: string, events: EventsOptions, destinationName: string, destination: EventDestination | null): Promise<number[]> {
  const rates: number[] = [];
  const count = ctx.options.smoke ? 2000 : 20_000;
  for (let run = 0; run < ctx.options.runs; run++) {
    const tag = `relay.${name}.${run}`;
    // Only this run's events are waiting: the rest of the bench's are marked routed.
    await ctx.bare.query(`UPDATE outbox SET fanned_out_at = now() WHERE fanned_out_at IS NULL`);
    const [{ from }] = (await ctx.bare.query<{ from: string }>(`SELECT COALESCE(max(seq), 0)::text AS from FROM outbox`)).rows;
    const writer = await moduleContext(ctx, { enabled: true, relay: false });
    try {
      const backlog = tagged(tag, count).map((u) => ({ email: u.email, hashedPassword: ctx.hashedPassword }));
      // In calls of at most 10,000 users, the repository's cap.
      for (let start = 0; start < backlog.length; start += 10_000) await writer.get(UsersRepository).bulkCreateUsers(backlog.slice(start, start + 10_000));
    } finally {
      await writer.close();
    }
    const relay = await moduleContext(ctx, { ...events, enabled: true, relay: true, pollIntervalMs: 50, batchSize: RELAY_BATCH }, destination);
    try {
      const deadline = performance.now() + (ctx.options.smoke ? 60_000 : 300_000);
      for (;;) {
        const [state] = (
          await ctx.bare.query<{ delivered: number; dead: number; seconds: number }>(
            `SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status = 'dead')::int AS dead,
                    COALESCE(extract(epoch FROM max(delivered_at) - min(delivered_at)), 0)::float8 AS seconds
             FROM outbox_deliveries WHERE destination = $1 AND event_seq > $2`,
            [destinationName, from],
          )
        ).rows;
        if (state.dead > 0) throw new Error(`${state.dead} deliveries to ${destinationName} were dead-lettered`);
        if (state.delivered >= count) {
          // The first batch's deliveries are recorded at the first delivery time: the rate is of
          // the ones after it.
          rates.push((count - RELAY_BATCH) / Math.max(state.seconds, 0.001));
          break;
        }
        if (performance.now() > deadline) throw new Error(`only ${state.delivered} of ${count} events reached ${destinationName} in time`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await relay.close();
      await removeTagged(ctx, tag);
    }
  }
  return rates;
}

const RELAY_BATCH = 500;
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export async function relayRows(ctx: BenchContext): Promise<Row[]> {
  const backlog = ctx.options.smoke ? 2000 : 20_000;
  const note = (where: string) => `a backlog of ${backlog.toLocaleString('en-US')} events, one relay, batches of 500; ${where}`;
  const rows: Row[] = [];
  const subscriber: EventDestination = { name: 'subscriber:bench', types: null, deliver: async () => undefined };
  const inProcess = await relayThroughput(ctx, 'subscriber', {}, subscriber.name, subscriber);
  rows.push(row({ name: 'events: relay to an in-process subscriber', unit: 'events/s', goal: 'report', ours: inProcess, reference: [], note: note('a handler that returns at once') }));

  rows.push(await webhookRow(ctx, note('a local HTTP receiver answering 204, Standard Webhooks signatures, 8 requests in flight')));

  // The brokers of this machine, on names of the run's own, removed afterwards.
  const suffix = Math.random().toString(36).slice(2, 10);
  const stream = `USERS_EVENTS_BENCH_${suffix.toUpperCase()}`;
  const exchange = `users.events.bench.${suffix}`;
  rows.push(
    await brokerRow(ctx, 'events: relay to NATS JetStream', note(`PubAck awaited for each; ${NATS_URL}`), () =>
      relayThroughput(ctx, 'nats', { nats: { url: NATS_URL, subjectPrefix: `bench_${suffix}.users.events`, stream } }, 'broker:nats', null),
    ),
  );
  rows.push(
    await brokerRow(ctx, 'events: relay to RabbitMQ', note(`publisher confirms; ${AMQP_URL.replace(/\/\/[^@]*@/, '//')}`), () =>
      relayThroughput(ctx, 'amqp', { amqp: { url: AMQP_URL, exchange } }, 'broker:amqp', null),
    ),
  );
  await removeBrokerObjects(stream, exchange);
  return rows;
}

// A signed webhook to a receiver in this process, on 127.0.0.1 (allow-listed for the row).
async function webhookRow(ctx: BenchContext, note: string): Promise<Row> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(204).end());
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const destination = new WebhookDestination({ id: 'bench', url: `http://127.0.0.1:${port}/events`, secret: newWebhookSecret(), types: null }, new WebhookAllowList(['127.0.0.1']));
    return await brokerRow(ctx, 'events: relay to a webhook', note, () => relayThroughput(ctx, 'webhook', {}, destination.name, destination));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function brokerRow(ctx: BenchContext, name: string, note: string, measure: () => Promise<number[]>): Promise<Row> {
  try {
    return row({ name, unit: 'events/s', goal: 'report', ours: await measure(), reference: [], note });
  } catch (error) {
    return skipped(name, 'events/s', 'report', `not measured: ${(error as Error).message.split('\n')[0]}`);
  }
}

async function removeBrokerObjects(stream: string, exchange: string): Promise<void> {
  try {
    const nc = await connectNats({ servers: NATS_URL, timeout: 2000 });
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  } catch {
    // NATS was not reachable: the row says so, and there is nothing to remove.
  }
  try {
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.deleteExchange(exchange).catch(() => undefined);
    await connection.close();
  } catch {
    // Likewise for RabbitMQ.
  }
}
