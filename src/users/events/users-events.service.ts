import { Injectable } from '@nestjs/common';
import { isUserEventType, type UserEvent, type UserEventType } from './user-event';

// Somewhere the relay delivers events to: an in-process subscriber (UsersEvents.on), a webhook or
// a broker. `name` keys its deliveries in the outbox, so it must stay the same across restarts
// and be the same on every instance that relays.
export interface EventDestination {
  readonly name: string;
  // The event types it takes; null for all of them.
  readonly types: readonly UserEventType[] | null;
  // Resolves once the event is safely handed over; a rejection (or a timeout) is retried later.
  deliver(event: UserEvent, signal: AbortSignal): Promise<void>;
  // How many deliveries it may have in flight at once (default 1: one after the other). The
  // events of one round are about distinct users (a user's later event waits for the earlier
  // one), so any concurrency keeps each user's order.
  readonly concurrency?: number;
}

export type UserEventHandler<T extends UserEventType> = (event: UserEvent<T>, signal: AbortSignal) => unknown;

const SUBSCRIBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

// The user lifecycle events, for the host's modules: subscribe with on() (in onModuleInit, so that
// no event routed at startup misses the subscriber). Each subscriber gets every event of its types
// at least once, after the change committed, in commit order per user; a handler that throws is
// retried with backoff and the event is dead-lettered after the last attempt (README "Events").
@Injectable()
export class UsersEvents {
  private readonly destinations = new Map<string, EventDestination>();
  private readonly listeners = new Set<() => void>();

  // `name` identifies the subscriber in the outbox (its deliveries, retries and dead letters):
  // keep it stable. Returns a function that unsubscribes.
  on<T extends UserEventType>(types: T | readonly T[] | '*', handler: UserEventHandler<T>, options: { name: string }): () => void {
    const name = options?.name;
    if (typeof name !== 'string' || !SUBSCRIBER_NAME.test(name)) throw new Error(`UsersEvents.on: options.name must match ${SUBSCRIBER_NAME.source}`);
    if (typeof handler !== 'function') throw new Error('UsersEvents.on: the handler must be a function');
    const list = types === '*' ? null : typeof types === 'string' ? [types] : [...types];
    const unknown = list?.filter((type) => !isUserEventType(type));
    if (list?.length === 0 || unknown?.length) throw new Error(`UsersEvents.on: unknown event type ${JSON.stringify(unknown?.[0] ?? '')} (see USER_EVENT_TYPES)`);
    return this.add({
      name: `subscriber:${name}`,
      types: list,
      deliver: async (event, signal) => {
        await handler(event as UserEvent<T>, signal);
      },
    });
  }

  // For the module's own delivery channels (webhooks, brokers).
  add(destination: EventDestination): () => void {
    if (this.destinations.has(destination.name)) throw new Error(`UsersEvents: ${destination.name} is already subscribed`);
    this.destinations.set(destination.name, destination);
    this.changed();
    return () => {
      if (this.destinations.get(destination.name) === destination) this.destinations.delete(destination.name);
    };
  }

  list(): EventDestination[] {
    return [...this.destinations.values()];
  }

  get(name: string): EventDestination | undefined {
    return this.destinations.get(name);
  }

  // Called when a destination is added (the relay wakes up).
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
