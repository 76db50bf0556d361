import { Inject, Injectable, Module, type DynamicModule, type INestApplicationContext, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import { usersModuleSettings } from '../src/app.module';
import { UsersModule } from '../src/users/users.module';
import type { EventsSettings } from '../src/users/events/events.settings';
import { UsersEvents, type EventDestination } from '../src/users/events/users-events.service';
import type { PreparedNewUser } from '../src/users/repository/user-writes';
import type { NewUser } from '../src/users/user.model';
import { UsersRepository } from '../src/users/users.repository';
import type { BenchContext } from './context';
import { elapsedMs, rotatedRuns } from './measure';
import { row, type Row } from './report';

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
  static with(ctx: BenchContext, events: Partial<EventsSettings>, destination: EventDestination | null): DynamicModule {
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
async function moduleContext(ctx: BenchContext, events: Partial<EventsSettings>, destination: EventDestination | null = null): Promise<INestApplicationContext> {
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
// while no relay ran (the case after an outage, and the relay's ceiling).
export async function relayThroughput(ctx: BenchContext, name: string, destination: () => EventDestination): Promise<number[]> {
  const rates: number[] = [];
  const count = ctx.options.smoke ? 500 : 20_000;
  for (let run = 0; run < ctx.options.runs; run++) {
    const tag = `relay.${name}.${run}`;
    // Only this run's events are waiting: the rest of the bench's are marked routed.
    await ctx.bare.query(`UPDATE outbox SET fanned_out_at = now() WHERE fanned_out_at IS NULL`);
    const writer = await moduleContext(ctx, { enabled: true, relay: false });
    try {
      await writer.get(UsersRepository).bulkCreateUsers(tagged(tag, count).map((u) => ({ email: u.email, hashedPassword: ctx.hashedPassword })));
    } finally {
      await writer.close();
    }
    let delivered = 0;
    let first = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const inner = destination();
    const counting: EventDestination = {
      name: inner.name,
      types: inner.types,
      deliver: async (event, signal) => {
        await inner.deliver(event, signal);
        first ||= performance.now();
        if (++delivered === count) done();
      },
    };
    // Timed from the first delivery: the relay's boot is not its throughput.
    const relay = await moduleContext(ctx, { enabled: true, relay: true, pollIntervalMs: 50, batchSize: 500 }, counting);
    try {
      await finished;
      rates.push((count - 1) / ((performance.now() - first) / 1000));
    } finally {
      await relay.close();
      await removeTagged(ctx, tag);
    }
  }
  return rates;
}

export async function relayRows(ctx: BenchContext): Promise<Row[]> {
  const inProcess = await relayThroughput(ctx, 'subscriber', () => ({ name: 'subscriber:bench', types: null, deliver: async () => undefined }));
  return [
    row({
      name: 'events: relay to an in-process subscriber',
      unit: 'events/s',
      goal: 'report',
      ours: inProcess,
      reference: [],
      note: `a backlog of ${ctx.options.smoke ? 500 : 20_000} events; one relay, batches of 500, a handler that returns at once`,
    }),
  ];
}
