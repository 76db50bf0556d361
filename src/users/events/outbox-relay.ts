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

// Delivered (no error), failed (an error), or released unattempted (the claim's lease would have
// run out before it: the next round, on any instance, takes it).
interface Outcome {
  row: ClaimedRow;
  error?: string;
  released?: boolean;
}

const PRUNE_EVERY_MS = 60_000;
// How often an instance announces its destinations, how long an announced destination keeps being
// routed to after its last announcement (a deploy, a restart), and after how long without one its
// pending deliveries are given up (dead) rather than kept forever.
const ANNOUNCE_EVERY_MS = 10_000;
const ROUTED_FOR_MINUTES = 60;
const ABANDONED_AFTER_HOURS = 24;
const PRUNE_BATCH = 1000;
const ERROR_TEXT_MAX = 500;
// Time kept in hand between the last delivery a claim may start and the end of its lease (at most
// half of what the lease leaves after one delivery's timeout).
const LEASE_MARGIN_MS = 1000;
// Anything shaped like an email address in an error's text (a mailer's "550 <address> unknown").
const EMAIL_LIKE = /[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+/g;

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
  private lastAnnounce = 0;
  private announced = '';

  constructor(
    settings: UsersSettings,
    private readonly db: Db,
    private readonly t: TableNames,
    private readonly events: UsersEvents,
    outbox: Outbox,
  ) {
    this.settings = settings.events;
    this.routeLock = createHash('sha256').update(`nest-users outbox ${t.outbox}`).digest().readBigInt64BE(0).toString();
    // Only a relay that runs is woken by writes: otherwise every write would pay a hook for nothing.
    if (this.settings.enabled && this.settings.relay) {
      events.onChange(() => this.nudge());
      outbox.onWritten(() => this.nudge());
    }
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
    await this.announce(destinations);
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

  // Records this instance's destinations (at once when they changed, else every few seconds), so
  // that whichever instance routes an event gives it a delivery for each of them.
  private async announce(destinations: EventDestination[]): Promise<void> {
    const list = JSON.stringify(destinations.map((d) => ({ name: d.name, types: d.types })));
    if (list === this.announced && Date.now() - this.lastAnnounce < ANNOUNCE_EVERY_MS) return;
    if (destinations.length) {
      await this.db.query(
        `INSERT INTO ${this.t.outboxDestinations} (name, types, seen_at)
         SELECT d.name, d.types, now() FROM jsonb_to_recordset($1::jsonb) AS d(name text, types text[])
         ON CONFLICT (name) DO UPDATE SET types = EXCLUDED.types, seen_at = EXCLUDED.seen_at`,
        [list],
      );
    }
    this.announced = list;
    this.lastAnnounce = Date.now();
  }

  // Gives the oldest unrouted events their deliveries; an event no destination takes is routed
  // to none. Returns how many events it routed (0 when another instance is routing). The
  // destinations are this instance's, every destination another instance announced within the
  // last hour (so an instance without a subscriber, a script say, never routes events past it),
  // and the enabled webhook subscriptions as stored (a subscription takes events from its commit
  // on, whichever instance made it; one deleted, a disabled row, is no longer routed to, even by an
  // instance that has not reloaded yet). Their deliveries wait for an instance that has the
  // destination.
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
                 WHERE NOT EXISTS (SELECT 1 FROM ${this.t.webhooks} w WHERE 'webhook:' || w.id::text = r.name AND NOT w.enabled)
               UNION SELECT a.name, a.types FROM ${this.t.outboxDestinations} a
                 WHERE a.seen_at > now() - $3 * interval '1 minute'
                   AND NOT EXISTS (SELECT 1 FROM ${this.t.webhooks} w WHERE 'webhook:' || w.id::text = a.name AND NOT w.enabled)
               UNION SELECT 'webhook:' || w.id, w.types FROM ${this.t.webhooks} w WHERE w.enabled
             ) d ON d.types IS NULL OR b.type = ANY(d.types)
           ON CONFLICT DO NOTHING
         )
         UPDATE ${this.t.outbox} o SET fanned_out_at = now() FROM batch b WHERE o.seq = b.seq RETURNING o.seq`,
        [this.settings.batchSize, JSON.stringify(destinations.map((d) => ({ name: d.name, types: d.types }))), ROUTED_FOR_MINUTES],
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
    // Past this, a delivery not yet started is released rather than attempted: it could not end
    // within the lease, and another instance may then take it (a second delivery, out of order).
    const window = this.settings.leaseMs - this.settings.handlerTimeoutMs;
    const startBy = Date.now() + window - Math.min(LEASE_MARGIN_MS, window / 2);
    const byDestination = new Map<string, ClaimedRow[]>();
    for (const row of claimed) byDestination.set(row.destination, [...(byDestination.get(row.destination) ?? []), row]);
    // Each destination's outcomes are recorded as soon as its deliveries are done: a slow one does
    // not keep the others' leases open.
    await Promise.all([...byDestination].map(async ([name, rows]) => this.record(await this.handOver(this.events.get(name), rows, startBy))));
    return claimed.length;
  }

  // One destination's claimed events, in event order, at most `concurrency` in flight. A round
  // claims at most one event per user and destination, so they are independent.
  private async handOver(destination: EventDestination | undefined, rows: ClaimedRow[], startBy: number): Promise<Outcome[]> {
    // Removed meanwhile (an unsubscribe, a deleted webhook, shutdown): left for another instance.
    if (!destination) return rows.map((row) => ({ row, released: true }));
    const outcomes = new Array<Outcome>(rows.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const row = rows[i];
        if (this.stopping || Date.now() > startBy) {
          outcomes[i] = { row, released: true };
          continue;
        }
        try {
          await this.withTimeout((signal) => destination.deliver(toEvent(row), signal));
          outcomes[i] = { row };
        } catch (error) {
          outcomes[i] = { row, error: errorText(error) };
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
    if (outcomes.length === 0) return;
    const failed = outcomes.filter((o) => o.error !== undefined);
    for (const o of failed) {
      this.logger.warn({ msg: 'event delivery failed', destination: o.row.destination, eventId: o.row.id, attempt: o.row.attempts, err: o.error });
    }
    await this.db.query(
      `UPDATE ${this.t.outboxDeliveries} d SET
         status = CASE r.kind WHEN 'delivered' THEN 'delivered' WHEN 'released' THEN 'pending' WHEN 'failed' THEN CASE WHEN d.attempts >= $7 THEN 'dead' ELSE 'pending' END END,
         attempts = CASE WHEN r.kind = 'released' THEN d.attempts - 1 ELSE d.attempts END,
         delivered_at = CASE WHEN r.kind = 'delivered' THEN now() END,
         next_attempt_at = CASE WHEN r.kind = 'failed' THEN clock_timestamp() + r.wait_ms * interval '1 millisecond' ELSE d.next_attempt_at END,
         last_error = CASE r.kind WHEN 'delivered' THEN NULL WHEN 'failed' THEN r.error ELSE d.last_error END,
         leased_until = NULL
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[]) AS r(seq, destination, lease, kind, wait_ms, error)
       WHERE d.event_seq = r.seq AND d.destination = r.destination AND d.leased_until = r.lease::timestamptz`,
      [
        outcomes.map((o) => o.row.event_seq),
        outcomes.map((o) => o.row.destination),
        outcomes.map((o) => o.row.lease),
        outcomes.map((o) => (o.released ? 'released' : o.error === undefined ? 'delivered' : 'failed')),
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

  // Gives up the pending deliveries no instance will make: to a deleted webhook subscription, or
  // to a destination no instance has announced for a day (a subscriber renamed or removed, a broker
  // no longer configured). They become dead letters (replayable), so the outbox can be pruned.
  private async abandon(): Promise<void> {
    await this.db.query(
      `UPDATE ${this.t.outboxDeliveries} d SET status = 'dead', leased_until = NULL,
         last_error = 'no instance delivers to this destination any more'
       WHERE d.status = 'pending' AND CASE
         WHEN d.destination LIKE 'webhook:%' AND d.destination <> 'webhook:env'
           THEN NOT EXISTS (SELECT 1 FROM ${this.t.webhooks} w WHERE 'webhook:' || w.id::text = d.destination AND w.enabled)
         ELSE NOT EXISTS (SELECT 1 FROM ${this.t.outboxDestinations} a WHERE a.name = d.destination AND a.seen_at > now() - $1 * interval '1 hour')
       END`,
      [ABANDONED_AFTER_HOURS],
    );
  }

  // Deletes events older than retainDays that every destination has received (dead letters stay
  // until they are replayed or deleted by hand), oldest first along the primary key, below the
  // first event young enough to keep: no sweep reads the events it keeps.
  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    await this.abandon();
    const [{ below }] = await this.db.query<{ below: string | null }>(
      `SELECT COALESCE((SELECT seq FROM ${this.t.outbox} WHERE occurred_at >= now() - $1 * interval '1 day' ORDER BY seq LIMIT 1),
                       (SELECT max(seq) + 1 FROM ${this.t.outbox}))::text AS below`,
      [this.settings.retainDays],
    );
    if (below === null) return;
    let deleted: number;
    do {
      const rows = await this.db.query(
        `DELETE FROM ${this.t.outbox} WHERE seq IN (
           SELECT e.seq FROM ${this.t.outbox} e
           WHERE e.seq < $1::bigint AND e.fanned_out_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM ${this.t.outboxDeliveries} d WHERE d.event_seq = e.seq AND d.status <> 'delivered')
           ORDER BY e.seq LIMIT ${PRUNE_BATCH}) RETURNING seq`,
        [below],
      );
      deleted = rows.length;
    } while (deleted === PRUNE_BATCH && !this.stopping);
  }
}

// What is kept of a failed delivery's error: its message, without anything shaped like an email
// address (the outbox keeps no personal data; an erasure clears the rest), and bounded.
function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(EMAIL_LIKE, '<email>').slice(0, ERROR_TEXT_MAX) || 'failed';
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
