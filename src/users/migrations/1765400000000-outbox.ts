import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';

// The transactional outbox. Every write inserts its events into `outbox` in its own transaction
// (usually in the same statement), so an event exists if and only if its change committed. The
// relay then gives each event one row in `outbox_deliveries` per destination (an in-process
// subscriber, a webhook, a broker) and works through those: at least once, retried with backoff,
// dead-lettered after the last attempt, and per user and destination in commit order.
export class Outbox1765400000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('Outbox1765400000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    // `seq` orders events; for one user it follows commit order, since every write takes the
    // user's row lock before it draws its sequence number. `id` is the idempotency key consumers see.
    await db.query(`
      CREATE TABLE ${t.outbox} (
        "seq" bigint GENERATED ALWAYS AS IDENTITY,
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "type" text NOT NULL,
        "user_id" uuid NOT NULL,
        "occurred_at" timestamptz NOT NULL DEFAULT now(),
        "actor_id" uuid,
        "request_id" text,
        "version" integer NOT NULL,
        "changed_fields" text[] NOT NULL DEFAULT '{}',
        "fanned_out_at" timestamptz,
        CONSTRAINT ${t.object('PK_outbox')} PRIMARY KEY ("seq"),
        CONSTRAINT ${t.object('UQ_outbox_id')} UNIQUE ("id")
      )`);
    // The relay's queue of events without deliveries yet: small, since the relay empties it. Every
    // index here is paid by every write, so there are no others: the retention sweep walks the
    // primary key from the oldest event, and deliveries carry their user for the lookups by user.
    await db.query(`CREATE INDEX ${t.object('IDX_outbox_unrouted')} ON ${t.outbox} ("seq") WHERE "fanned_out_at" IS NULL`);
    await db.query(`
      CREATE TABLE ${t.outboxDeliveries} (
        "event_seq" bigint NOT NULL,
        "destination" text NOT NULL,
        "user_id" uuid NOT NULL,
        "status" text NOT NULL DEFAULT 'pending',
        "attempts" integer NOT NULL DEFAULT 0,
        "next_attempt_at" timestamptz NOT NULL DEFAULT now(),
        "leased_until" timestamptz,
        "last_error" text,
        "delivered_at" timestamptz,
        CONSTRAINT ${t.object('PK_outbox_deliveries')} PRIMARY KEY ("event_seq", "destination"),
        CONSTRAINT ${t.object('FK_outbox_deliveries_event')} FOREIGN KEY ("event_seq") REFERENCES ${t.outbox} ("seq") ON DELETE CASCADE,
        CONSTRAINT ${t.object('CHK_outbox_deliveries_status')} CHECK ("status" IN ('pending', 'delivered', 'dead'))
      )`);
    // The pending deliveries, oldest event first (what a relay claims, however long the delivered
    // history); and whether an earlier delivery to the same destination about the same user is
    // still pending (it must go first).
    await db.query(`CREATE INDEX ${t.object('IDX_outbox_deliveries_pending')} ON ${t.outboxDeliveries} ("event_seq") WHERE "status" = 'pending'`);
    await db.query(`CREATE INDEX ${t.object('IDX_outbox_deliveries_order')} ON ${t.outboxDeliveries} ("destination", "user_id", "event_seq") WHERE "status" = 'pending'`);
    // The failed deliveries about a user, whose errors an erasure clears (a destination's error
    // text is not ours to vouch for). Only deliveries that ever failed are in it.
    await db.query(`CREATE INDEX ${t.object('IDX_outbox_deliveries_errors')} ON ${t.outboxDeliveries} ("user_id") WHERE "last_error" IS NOT NULL`);
    // The destinations the relaying instances deliver to, as they last announced them: an event is
    // routed to every destination seen recently, whichever instance routes it (a script or an old
    // pod without a subscriber must not route events past it).
    await db.query(`
      CREATE TABLE ${t.outboxDestinations} (
        "name" text NOT NULL,
        "types" text[],
        "seen_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ${t.object('PK_outbox_destinations')} PRIMARY KEY ("name")
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE ${this.t.outboxDestinations}`);
    await db.query(`DROP TABLE ${this.t.outboxDeliveries}`);
    await db.query(`DROP TABLE ${this.t.outbox}`);
  }
}
