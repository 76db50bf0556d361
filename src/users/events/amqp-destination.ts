import { Logger } from '@nestjs/common';
import { connect, type ConfirmChannel } from 'amqplib';
import { BrokerLink, type BrokerDestination, type OpenLink, BROKER_CONCURRENCY } from './broker-link';
import type { AmqpSettings } from './events.settings';
import type { UserEvent } from './user-event';

// Publishes every event to a durable RabbitMQ topic exchange, with the event type as routing key
// (bind a queue with `user.*` or `#`), persistent, the event id as message id. deliver() resolves
// once the broker confirmed the message (publisher confirms): routed to the queues bound then, or
// dropped by the broker when none is bound.
export class AmqpDestination implements BrokerDestination {
  readonly name = 'broker:amqp';
  readonly types = null;
  // Publishes of one round are about distinct users: in flight together, each awaiting its ack.
  readonly concurrency = BROKER_CONCURRENCY;
  private readonly logger = new Logger('AmqpDestination');
  private readonly link: BrokerLink<ConfirmChannel>;

  constructor(
    private readonly settings: AmqpSettings,
    private readonly timeoutMs: number,
  ) {
    this.link = new BrokerLink(this.logger, (lost) => this.open(lost));
  }

  async deliver(event: UserEvent): Promise<void> {
    const channel = await this.link.get();
    const body = Buffer.from(JSON.stringify(event));
    const options = {
      persistent: true,
      messageId: event.id,
      type: event.type,
      contentType: 'application/json',
      timestamp: Math.floor(event.occurredAt.getTime() / 1000),
      appId: 'nest-users',
    };
    await new Promise<void>((resolve, reject) => {
      // The callback gets the broker's ack, its nack, or the channel's closing.
      channel.publish(this.settings.exchange, event.type, body, options, (error: unknown) => (error ? reject(toError(error)) : resolve()));
    });
  }

  warmUp(): void {
    this.link.warmUp();
  }

  close(): Promise<void> {
    return this.link.close();
  }

  // A closed channel (the exchange deleted, a nack storm) takes the connection with it, so that
  // the next delivery starts again from a fresh connection and re-asserts the exchange.
  private async open(lost: (error?: Error) => void): Promise<OpenLink<ConfirmChannel>> {
    const connection = await connect(this.settings.url, { timeout: this.timeoutMs, clientProperties: { connection_name: 'nest-users' } });
    connection.on('error', (error: Error) => this.logger.warn({ msg: 'RabbitMQ connection error', err: error.message }));
    connection.on('close', (error?: Error) => lost(error));
    const closeConnection = () => connection.close().catch(() => undefined);
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', (error: Error) => this.logger.warn({ msg: 'RabbitMQ channel error', err: error.message }));
      channel.on('close', () => void closeConnection());
      await channel.assertExchange(this.settings.exchange, 'topic', { durable: true });
      return { client: channel, close: closeConnection };
    } catch (error) {
      await closeConnection();
      throw error;
    }
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
