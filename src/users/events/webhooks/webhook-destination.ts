import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { UserEvent, UserEventType } from '../user-event';
import type { EventDestination } from '../users-events.service';
import type { WebhookAllowList } from './webhook-allow-list';
import { postWebhook } from './webhook-request';

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
// Requests in flight per subscription. A round hands a destination at most one event per user, so
// they never reorder a user's events; more would press a receiver harder than it may expect.
const CONCURRENCY = 8;

// A fresh signing secret in the Standard Webhooks format: whsec_ and base64 of random bytes.
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

// Why a secret is not a Standard Webhooks one of 24 to 64 bytes, or undefined.
export function webhookSecretIssue(secret: unknown): string | undefined {
  if (typeof secret !== 'string' || !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) return 'a whsec_ secret (whsec_ and base64)';
  const bytes = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64').length;
  return bytes >= 24 && bytes <= 64 ? undefined : 'a whsec_ secret of 24 to 64 bytes';
}

// The destination name of a subscription, in the outbox.
export function webhookDestinationName(subscriptionId: string): string {
  return `webhook:${subscriptionId}`;
}

export interface WebhookTarget {
  id: string;
  url: string;
  secret: string;
  types: readonly UserEventType[] | null;
}

// One webhook subscription as a relay destination: each event is POSTed in the Standard Webhooks
// format, signed anew per attempt (receivers refuse old timestamps), with the event id as
// webhook-id, the key by which a receiver recognises a redelivery.
export class WebhookDestination implements EventDestination {
  readonly name: string;
  readonly types: readonly UserEventType[] | null;
  readonly concurrency = CONCURRENCY;
  private readonly signer: Webhook;

  constructor(
    private readonly target: WebhookTarget,
    private readonly allowList: WebhookAllowList,
  ) {
    this.name = webhookDestinationName(target.id);
    this.types = target.types;
    this.signer = new Webhook(target.secret);
  }

  async deliver(event: UserEvent, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: event });
    const now = new Date();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'nest-users-webhooks',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.signer.sign(event.id, now, body),
    };
    await postWebhook(this.target.url, headers, body, this.allowList, signal);
  }
}
