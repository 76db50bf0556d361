import { Logger } from '@nestjs/common';
import { connect, Events, type JetStreamClient, type NatsConnection, NatsError } from 'nats';
import { BrokerLink, type BrokerDestination, type OpenLink, BROKER_CONCURRENCY } from './broker-link';
import type { NatsSettings } from './events.settings';
import type { UserEvent } from './user-event';

const STREAM_NOT_FOUND = 10059;

// Publishes every event to NATS JetStream, on `<subjectPrefix>.<type>` (users.events.user.created),
// as the event's JSON with the event id as Nats-Msg-Id: the stream drops a second copy published
// within its duplicate window. deliver() resolves once the stream acknowledged (stored) it.
export class NatsDestination implements BrokerDestination {
  readonly name = 'broker:nats';
  readonly types = null;
  // Publishes of one round are about distinct users: in flight together, each awaiting its ack.
  readonly concurrency = BROKER_CONCURRENCY;
  private readonly logger = new Logger('NatsDestination');
  private readonly link: BrokerLink<JetStreamClient>;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly settings: NatsSettings,
    private readonly timeoutMs: number,
  ) {
    this.link = new BrokerLink(this.logger, (lost) => this.open(lost));
  }

  async deliver(event: UserEvent): Promise<void> {
    const js = await this.link.get();
    await js.publish(`${this.settings.subjectPrefix}.${event.type}`, this.encoder.encode(JSON.stringify(event)), {
      msgID: event.id,
      timeout: this.timeoutMs,
      // Refused (and retried) unless our stream stores it: never acknowledged by another stream.
      expect: { streamName: this.settings.stream },
    });
  }

  warmUp(): void {
    this.link.warmUp();
  }

  close(): Promise<void> {
    return this.link.close();
  }

  // The client reconnects by itself (forever); meanwhile publishes time out and are retried.
  private async open(lost: (error?: Error) => void): Promise<OpenLink<JetStreamClient>> {
    const url = new URL(this.settings.url);
    const credentials = url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : {};
    url.username = '';
    url.password = '';
    const nc = await connect({ servers: url.toString(), name: 'nest-users', timeout: this.timeoutMs, maxReconnectAttempts: -1, ...credentials });
    void nc.closed().then((error) => lost(error || undefined));
    this.watch(nc).catch(() => undefined);
    try {
      await this.ensureStream(nc);
    } catch (error) {
      await nc.close();
      throw error;
    }
    // close(), not drain(): drain waits for a server that may be gone; nothing is in flight at shutdown.
    return { client: nc.jetstream(), close: () => nc.close() };
  }

  private async ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await nc.jetstreamManager();
    const { stream, subjectPrefix, createStream } = this.settings;
    try {
      await jsm.streams.info(stream);
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === STREAM_NOT_FOUND)) throw error;
      if (!createStream) throw new Error(`the JetStream stream ${stream} does not exist (createStream is false)`);
      await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}.>`] });
      this.logger.log({ msg: 'created the JetStream stream', stream, subjects: `${subjectPrefix}.>` });
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) this.logger.warn({ msg: 'disconnected from NATS; reconnecting', server: status.data });
      else if (status.type === Events.Reconnect) this.logger.log({ msg: 'reconnected to NATS', server: status.data });
    }
  }
}
