import type { Logger } from '@nestjs/common';
import type { EventDestination } from './users-events.service';

// After a failed attempt to connect, deliveries fail at once for this long instead of each trying
// again: a batch of events for an unreachable (or silent) broker would otherwise wait a connect
// timeout per event. The relay retries them with its backoff.
const PAUSE_AFTER_FAILURE_MS = 1000;

// A destination that holds a connection: opened at bootstrap, closed at shutdown.
// Publishes a broker destination keeps in flight at once (each awaits its own acknowledgement).
export const BROKER_CONCURRENCY = 32;

export interface BrokerDestination extends EventDestination {
  warmUp(): void;
  close(): Promise<void>;
}

export interface OpenLink<T> {
  client: T;
  close(): Promise<void>;
}

// One connection to a broker, shared by every delivery: opened on first use (or at bootstrap),
// dropped when it breaks, and opened again by the next delivery. Deliveries made while it is
// down fail, and the relay retries them.
export class BrokerLink<T> {
  private current?: Promise<OpenLink<T>>;
  private failure?: { at: number; error: Error };
  private closed = false;

  // `open` connects and prepares (stream, exchange); it calls `lost` when the connection breaks
  // for good (an unhandled 'error' event would end the process, so it listens for them).
  constructor(
    private readonly logger: Logger,
    private readonly open: (lost: (error?: Error) => void) => Promise<OpenLink<T>>,
  ) {}

  async get(): Promise<T> {
    if (this.closed) throw new Error('the broker connection is closed (shutting down)');
    if (!this.current) {
      if (this.failure && Date.now() - this.failure.at < PAUSE_AFTER_FAILURE_MS) throw this.failure.error;
      this.current = this.connect();
    }
    return (await this.current).client;
  }

  // Connects now, so that a broker that is down is reported at startup (the app starts anyway).
  warmUp(): void {
    this.get().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = this.current;
    this.current = undefined;
    const link = await current?.catch(() => undefined);
    await link?.close();
  }

  private connect(): Promise<OpenLink<T>> {
    const attempt: Promise<OpenLink<T>> = this.open((error) => {
      if (this.current !== attempt || this.closed) return;
      this.current = undefined;
      this.logger.warn({ msg: 'broker connection lost; the next delivery reconnects', err: error?.message });
    }).then(
      (link) => {
        this.failure = undefined;
        this.logger.log('connected to the broker');
        return link;
      },
      (error: Error) => {
        if (this.current === attempt) this.current = undefined;
        this.failure = { at: Date.now(), error };
        this.logger.warn({ msg: 'cannot connect to the broker; deliveries are retried', err: error.message });
        throw error;
      },
    );
    return attempt;
  }
}
