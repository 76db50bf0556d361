import type { UserEventType } from './user-event';

// How events are written and relayed, with every default filled in (UsersSettings.events).
export interface EventsSettings {
  // Write events to the outbox with every change.
  enabled: boolean;
  // Run this instance's relay (several instances may; they share the work).
  relay: boolean;
  // How long an idle relay waits before it looks again.
  pollIntervalMs: number;
  // Events routed, and deliveries claimed, per round.
  batchSize: number;
  // Attempts per delivery before it is dead-lettered.
  maxAttempts: number;
  // The wait after the first failure; it doubles with every attempt up to maxBackoffMs.
  backoffMs: number;
  maxBackoffMs: number;
  // How long a claimed delivery is reserved for the instance that claimed it: one that dies
  // mid-delivery leaves it to another after this.
  leaseMs: number;
  // The longest a subscriber may take per event before the attempt counts as failed.
  handlerTimeoutMs: number;
  // Events whose deliveries all succeeded are deleted after this many days.
  retainDays: number;
  // Webhook subscriptions: the allow-list of their targets, and the one the environment defines.
  webhooks: WebhooksSettings;
  // The brokers this instance's relay also publishes every event to (README "Brokers"), when set.
  nats: NatsSettings | null;
  amqp: AmqpSettings | null;
}

// Dot-separated tokens without the wildcards * and >, so that `<prefix>.>` captures exactly ours.
export const NATS_SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const NATS_STREAM = /^[A-Za-z0-9_-]{1,255}$/;
// AMQP 0-9-1 exchange names; the amq. prefix is reserved by the broker.
export const AMQP_EXCHANGE = /^(?!amq\.)[A-Za-z0-9_.:-]{1,255}$/;

// NATS JetStream: events go to `<subjectPrefix>.<event type>`, captured by `stream`.
export interface NatsSettings {
  url: string;
  subjectPrefix: string;
  stream: string;
  // Create the stream at startup when it is missing (false: it must exist).
  createStream: boolean;
}

// RabbitMQ: events go to a durable topic exchange with the event type as routing key.
export interface AmqpSettings {
  url: string;
  exchange: string;
}

export interface WebhooksSettings {
  allowedHosts: string[];
  // The subscription `webhook:env`, when url and secret are set; types null for every type.
  env?: { url: string; secret: string; types: UserEventType[] | null };
}
