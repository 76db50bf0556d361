import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UsersSettings } from '../users.options';
import type { EventsSettings } from './events.settings';
import type { UserEvent, UserEventType } from './user-event';
import { UsersEvents, type EventDestination } from './users-events.service';
import { Outbox } from './outbox';

interface ClaimedRow {
  event_seq: string;
  destination: string;
  attempts: number;
  lease: string;
  id: string;
  type: UserEventType;
  user_id: string;
  occurred_at: Date;
  actor_id: string | null;
  request_id: string | null;
  version: number;
  changed_fields: string[];
}

interface Outcome {
  row: ClaimedRow;
  error?: string;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1000;
const ERROR_TEXT_MAX = 500;

// Moves events from the outbox to their destinations, at least once. Each round:
// 1. routes new events: one delivery row per destination that takes the event's type (one
//    instance at a time, under an advisory lock, so that deliveries are created in event order);
// 2. claims due deliveries with FOR UPDATE SKIP LOCKED and a lease, at most the oldest pending one
//    per user and destination (so a user's events reach a destination in commit order, a retried
//    one holding back the later ones), and hands them over;
// 3. records each outcome: delivered, or retried after a doubling backoff, or dead after the last
//    attempt. An instance that dies mid-delivery leaves its lease to expire; another then delivers.
// Any number of instances can relay one outbox; each delivers to the destinations it has.
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('OutboxRelay');
  private readonly settings: EventsSettings;
  private readonly routeLock: string;
  private loop?: Promise<void>;
  private stopping = false;
  private wake?: () => void;
  private nudged = false;
  private lastPrune = 0;

  constructor(
    settings: UsersSettings,
    private readonly db: Db,
    private readonly t: TableNames,
    private readonly events: UsersEvents,
    outbox: Outbox,
  ) {
    this.settings = settings.events;
    this.routeLock = createHash('sha256').update(`nest-users outbox ${t.outbox}`).digest().readBigInt64BE(0).toString();
    events.onChange(() => this.nudge());
    outbox.onWritten(() => this.nudge());
  }

  onApplicationBootstrap(): void {
    if (this.settings.enabled && this.settings.relay) this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  // Finishes the round under way (its deliveries are recorded) and stops.
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  // Look again now rather than after the poll interval (a change committed here, a new destination).
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  // One round; true when it found work (the loop then goes on at once).
  async round(): Promise<boolean> {
    const destinations = this.events.list();
    const routed = await this.route(destinations);
    const handled = destinations.length ? await this.deliverDue(destinations) : 0;
    if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) await this.prune();
    return routed > 0 || handled > 0;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let busy = false;
      try {
        busy = await this.round();
      } catch (error) {
        // A database outage: the next round tries again.
        this.logger.warn({ msg: 'outbox relay round failed', err: (error as Error).message });
      }
      if (!busy && !this.stopping) await this.sleep(this.settings.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        this.nudged = false;
        done();
      };
    });
  }

  // Gives the oldest unrouted events their deliveries; an event no destination takes is routed
  // to none. Returns how many events it routed (0 when another instance is routing). Stored
  // webhook subscriptions take events from their commit on, whether or not the routing instance
  // has loaded them yet (another instance made them): their deliveries wait for an instance that has.
  private async route(destinations: EventDestination[]): Promise<number> {
    return this.db.transaction(async () => {
      const [{ locked }] = await this.db.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [this.routeLock]);
      if (!locked) return 0;
      const rows = await this.db.query<{ seq: string }>(
        `WITH batch AS (
           SELECT seq, user_id, type FROM ${this.t.outbox} WHERE fanned_out_at IS NULL ORDER BY seq LIMIT $1
         ), routes AS (
           INSERT INTO ${this.t.outboxDeliveries} (event_seq, destination, user_id)
           SELECT b.seq, d.name, b.user_id FROM batch b
             JOIN (
               SELECT r.name, r.types FROM jsonb_to_recordset($2::jsonb) AS r(name text, types text[])
               UNION SELECT 'webhook:' || w.id, w.types FROM ${this.t.webhooks} w WHERE w.enabled
             ) d ON d.types IS NULL OR b.type = ANY(d.types)
           ON CONFLICT DO NOTHING
         )
         UPDATE ${this.t.outbox} o SET fanned_out_at = now() FROM batch b WHERE o.seq = b.seq RETURNING o.seq`,
        [this.settings.batchSize, JSON.stringify(destinations.map((d) => ({ name: d.name, types: d.types })))],
      );
      return rows.length;
    });
  }

  private async deliverDue(destinations: EventDestination[]): Promise<number> {
    const claimed = await this.db.query<ClaimedRow>(
      `WITH due AS (
         SELECT c.event_seq, c.destination FROM ${this.t.outboxDeliveries} c
         WHERE c.status = 'pending' AND c.destination = ANY($1::text[]) AND c.next_attempt_at <= now()
           AND (c.leased_until IS NULL OR c.leased_until < clock_timestamp())
           AND NOT EXISTS (
             SELECT 1 FROM ${this.t.outboxDeliveries} p
             WHERE p.destination = c.destination AND p.user_id = c.user_id AND p.status = 'pending' AND p.event_seq < c.event_seq)
         ORDER BY c.event_seq LIMIT $2
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE ${this.t.outboxDeliveries} d SET leased_until = clock_timestamp() + $3 * interval '1 millisecond', attempts = d.attempts + 1
         FROM due WHERE d.event_seq = due.event_seq AND d.destination = due.destination
         RETURNING d.event_seq, d.destination, d.attempts, d.leased_until::text AS lease
       )
       SELECT c.event_seq, c.destination, c.attempts, c.lease, e.id, e.type, e.user_id, e.occurred_at, e.actor_id, e.request_id, e.version, e.changed_fields
       FROM claimed c JOIN ${this.t.outbox} e ON e.seq = c.event_seq ORDER BY c.event_seq`,
      [destinations.map((d) => d.name), this.settings.batchSize, this.settings.leaseMs],
    );
    if (claimed.length === 0) return 0;
    const byDestination = new Map<string, ClaimedRow[]>();
    for (const row of claimed) byDestination.set(row.destination, [...(byDestination.get(row.destination) ?? []), row]);
    const outcomes = (await Promise.all([...byDestination].map(([name, rows]) => this.handOver(this.events.get(name), rows)))).flat();
    await this.record(outcomes);
    return claimed.length;
  }

  // One destination's claimed events, in event order, at most `concurrency` in flight. A round
  // claims at most one event per user and destination, so they are independent.
  private async handOver(destination: EventDestination | undefined, rows: ClaimedRow[]): Promise<Outcome[]> {
    if (!destination) return rows.map((row) => ({ row, error: 'the destination was removed' }));
    const outcomes = new Array<Outcome>(rows.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const row = rows[i];
        try {
          await this.withTimeout((signal) => destination.deliver(toEvent(row), signal));
          outcomes[i] = { row };
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          outcomes[i] = { row, error: message.slice(0, ERROR_TEXT_MAX) || 'failed' };
        }
      }
    };
    const concurrency = Math.max(1, Math.min(destination.concurrency ?? 1, rows.length));
    await Promise.all(Array.from({ length: concurrency }, worker));
    return outcomes;
  }

  private async withTimeout(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer within ${this.settings.handlerTimeoutMs} ms`));
      }, this.settings.handlerTimeoutMs);
    });
    try {
      await Promise.race([work(controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // The outcomes of one round in one statement. A delivery whose lease was lost meanwhile (this
  // instance stalled past it, and another claimed it) is left to its new holder.
  private async record(outcomes: Outcome[]): Promise<void> {
    const failed = outcomes.filter((o) => o.error !== undefined);
    for (const o of failed) {
      this.logger.warn({ msg: 'event delivery failed', destination: o.row.destination, eventId: o.row.id, attempt: o.row.attempts, err: o.error });
    }
    await this.db.query(
      `UPDATE ${this.t.outboxDeliveries} d SET
         status = CASE WHEN r.ok THEN 'delivered' WHEN d.attempts >= $7 THEN 'dead' ELSE 'pending' END,
         delivered_at = CASE WHEN r.ok THEN now() END,
         next_attempt_at = CASE WHEN r.ok THEN d.next_attempt_at ELSE clock_timestamp() + r.wait_ms * interval '1 millisecond' END,
         last_error = r.error,
         leased_until = NULL
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::int[], $6::text[]) AS r(seq, destination, lease, ok, wait_ms, error)
       WHERE d.event_seq = r.seq AND d.destination = r.destination AND d.leased_until = r.lease::timestamptz`,
      [
        outcomes.map((o) => o.row.event_seq),
        outcomes.map((o) => o.row.destination),
        outcomes.map((o) => o.row.lease),
        outcomes.map((o) => o.error === undefined),
        outcomes.map((o) => (o.error === undefined ? 0 : this.backoff(o.row.attempts))),
        outcomes.map((o) => o.error ?? null),
        this.settings.maxAttempts,
      ],
    );
  }

  // Doubling from backoffMs, capped, with +-20% jitter so that retries of many events spread out.
  private backoff(attempts: number): number {
    const base = Math.min(this.settings.maxBackoffMs, this.settings.backoffMs * 2 ** Math.min(attempts - 1, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  // Deletes events older than retainDays that every destination has received (dead letters stay
  // until they are replayed or deleted by hand), oldest first along the primary key: sequence
  // order is commit order closely enough for a sweep measured in days.
  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    let deleted: number;
    do {
      const rows = await this.db.query(
        `DELETE FROM ${this.t.outbox} WHERE seq IN (
           SELECT e.seq FROM ${this.t.outbox} e
           WHERE e.occurred_at < now() - $1 * interval '1 day' AND e.fanned_out_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM ${this.t.outboxDeliveries} d WHERE d.event_seq = e.seq AND d.status <> 'delivered')
           ORDER BY e.seq LIMIT ${PRUNE_BATCH}) RETURNING seq`,
        [this.settings.retainDays],
      );
      deleted = rows.length;
    } while (deleted === PRUNE_BATCH && !this.stopping);
  }
}

function toEvent(row: ClaimedRow): UserEvent {
  return {
    id: row.id,
    type: row.type,
    userId: row.user_id,
    occurredAt: row.occurred_at,
    actorId: row.actor_id,
    requestId: row.request_id,
    version: row.version,
    changedFields: row.changed_fields,
    sequence: row.event_seq,
  };
}
