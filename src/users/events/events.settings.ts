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
}

export interface WebhooksSettings {
  allowedHosts: string[];
  // The subscription `webhook:env`, when url and secret are set; types null for every type.
  env?: { url: string; secret: string; types: UserEventType[] | null };
}
