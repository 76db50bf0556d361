import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';

// Webhook subscriptions made through the admin routes (the one the environment defines is not
// stored). The signing secret is kept as given to the subscriber: the relay needs it to sign.
// A deleted subscription is disabled, not removed, so that its deliveries stay explainable.
export class Webhooks1765500000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('Webhooks1765500000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`
      CREATE TABLE ${t.webhooks} (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "url" text NOT NULL,
        "secret" text NOT NULL,
        "types" text[],
        "enabled" boolean NOT NULL DEFAULT true,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "created_by" uuid,
        CONSTRAINT ${t.object('PK_webhooks')} PRIMARY KEY ("id")
      )`);
    // The list of subscriptions (and the enabled ones every instance loads), oldest first.
    await db.query(`CREATE INDEX ${t.object('IDX_webhooks_created_at_id')} ON ${t.webhooks} ("created_at", "id")`);
    // One destination's deliveries by status (the counts of GET /users/webhooks/:id and its
    // deliveries list), newest first.
    await db.query(`CREATE INDEX ${t.object('IDX_outbox_deliveries_destination')} ON ${t.outboxDeliveries} ("destination", "status", "event_seq")`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ${this.t.qualified('IDX_outbox_deliveries_destination')}`);
    await db.query(`DROP TABLE ${this.t.webhooks}`);
  }
}
