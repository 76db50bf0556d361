import { Injectable } from '@nestjs/common';
import { isUuid } from '../../common/paging';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { ValidationFailedError } from '../../errors/domain-error';
import type { UserEventType } from './user-event';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'dead'];

// One event's delivery to one destination, as the outbox records it.
export interface EventDelivery {
  eventId: string;
  type: UserEventType;
  userId: string;
  occurredAt: Date;
  sequence: string;
  destination: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastError: string | null;
  deliveredAt: Date | null;
}

export interface DeliveryQuery {
  destination?: string;
  status?: DeliveryStatus;
  userId?: string;
  // Keyset paging, newest first: the `sequence` of the last delivery of the previous page.
  before?: string;
  limit?: number;
}

interface DeliveryRow {
  event_id: string;
  type: UserEventType;
  user_id: string;
  occurred_at: Date;
  sequence: string;
  destination: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  delivered_at: Date | null;
}

const MAX_LIMIT = 1000;

// What the outbox says about deliveries (retries, dead letters), and redelivery on demand.
@Injectable()
export class EventDeliveries {
  constructor(
    private readonly db: Db,
    private readonly t: TableNames,
  ) {}

  async list(query: DeliveryQuery = {}): Promise<EventDelivery[]> {
    const limit = query.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw ValidationFailedError.field('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
    if (query.status !== undefined && !DELIVERY_STATUSES.includes(query.status)) throw ValidationFailedError.field('status', `must be one of ${DELIVERY_STATUSES.join(', ')}`);
    if (query.userId !== undefined && !isUuid(query.userId)) throw ValidationFailedError.field('userId', 'must be a UUID');
    if (query.before !== undefined && !/^\d{1,19}$/.test(query.before)) throw ValidationFailedError.field('before', 'must be the sequence of an event');
    const rows = await this.db.query<DeliveryRow>(
      `SELECT e.id::text AS event_id, e.type, e.user_id::text AS user_id, e.occurred_at, e.seq::text AS sequence, d.destination, d.status, d.attempts,
              d.next_attempt_at, d.last_error, d.delivered_at
       FROM ${this.t.outboxDeliveries} d JOIN ${this.t.outbox} e ON e.seq = d.event_seq
       WHERE ($1::text IS NULL OR d.destination = $1) AND ($2::text IS NULL OR d.status = $2) AND ($3::uuid IS NULL OR d.user_id = $3)
         AND ($4::bigint IS NULL OR d.event_seq < $4)
       ORDER BY d.event_seq DESC, d.destination LIMIT $5`,
      [query.destination ?? null, query.status ?? null, query.userId ?? null, query.before ?? null, limit],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      type: r.type,
      userId: r.user_id,
      occurredAt: r.occurred_at,
      sequence: r.sequence,
      destination: r.destination,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
      lastError: r.last_error,
      deliveredAt: r.delivered_at,
    }));
  }

  // Delivers an event again to a destination (all of the event's destinations without one): a
  // dead letter after the cause was fixed, or a delivered event a consumer lost. The delivery
  // starts over with a full set of attempts; the user's later events to that destination that are
  // still pending wait for it (those already delivered are not sent again). Returns how many
  // deliveries were reset.
  async replay(eventId: string, destination?: string): Promise<number> {
    if (!isUuid(eventId)) throw ValidationFailedError.field('eventId', 'must be a UUID');
    const rows = await this.db.query(
      `UPDATE ${this.t.outboxDeliveries} d SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL, delivered_at = NULL
       FROM ${this.t.outbox} e
       WHERE e.id = $1 AND d.event_seq = e.seq AND ($2::text IS NULL OR d.destination = $2) AND d.status <> 'pending'
       RETURNING d.event_seq`,
      [eventId, destination ?? null],
    );
    return rows.length;
  }
}
