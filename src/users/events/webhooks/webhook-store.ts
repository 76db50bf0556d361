import { Injectable } from '@nestjs/common';
import { Db } from '../../../database/db.service';
import { TableNames } from '../../../database/table-names';
import type { DeliveryStatus } from '../event-deliveries.service';
import type { UserEventType } from '../user-event';

// A stored subscription; the secret never leaves the module except once, at creation.
export interface WebhookSubscription {
  id: string;
  url: string;
  types: UserEventType[] | null;
  enabled: boolean;
  createdAt: Date;
  createdBy: string | null;
}

interface WebhookRow {
  id: string;
  url: string;
  secret: string;
  types: UserEventType[] | null;
  enabled: boolean;
  created_at: Date;
  created_by: string | null;
}

const COLUMNS = 'id::text, url, secret, types, enabled, created_at, created_by::text';

// The SQL of webhook subscriptions.
@Injectable()
export class WebhookStore {
  constructor(
    private readonly db: Db,
    private readonly t: TableNames,
  ) {}

  async insert(subscription: { url: string; secret: string; types: UserEventType[] | null; createdBy: string | null }): Promise<WebhookSubscription> {
    const [row] = await this.db.query<WebhookRow>(`INSERT INTO ${this.t.webhooks} (url, secret, types, created_by) VALUES ($1, $2, $3::text[], $4::uuid) RETURNING ${COLUMNS}`, [
      subscription.url,
      subscription.secret,
      subscription.types,
      subscription.createdBy,
    ]);
    return toSubscription(row);
  }

  // Enabled subscriptions, oldest first; with their secrets, for the relay's destinations.
  async listEnabled(): Promise<(WebhookSubscription & { secret: string })[]> {
    const rows = await this.db.query<WebhookRow>(`SELECT ${COLUMNS} FROM ${this.t.webhooks} WHERE enabled ORDER BY created_at, id`);
    return rows.map((row) => ({ ...toSubscription(row), secret: row.secret }));
  }

  async get(id: string): Promise<WebhookSubscription | undefined> {
    const [row] = await this.db.query<WebhookRow>(`SELECT ${COLUMNS} FROM ${this.t.webhooks} WHERE id = $1`, [id]);
    return row && toSubscription(row);
  }

  // True when it disabled an enabled subscription.
  async disable(id: string): Promise<boolean> {
    const rows = await this.db.query(`UPDATE ${this.t.webhooks} SET enabled = false WHERE id = $1 AND enabled RETURNING id`, [id]);
    return rows.length > 0;
  }

  // How many of a destination's deliveries are in each status.
  async deliveryCounts(destination: string): Promise<Record<DeliveryStatus, number>> {
    const rows = await this.db.query<{ status: DeliveryStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${this.t.outboxDeliveries} WHERE destination = $1 GROUP BY status`,
      [destination],
    );
    const counts: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }
}

function toSubscription(row: WebhookRow): WebhookSubscription {
  return { id: row.id, url: row.url, types: row.types, enabled: row.enabled, createdAt: row.created_at, createdBy: row.created_by };
}
