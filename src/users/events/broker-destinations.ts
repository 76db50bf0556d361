import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { UsersSettings } from '../users.options';
import { AmqpDestination } from './amqp-destination';
import type { BrokerDestination } from './broker-link';
import { NatsDestination } from './nats-destination';
import { UsersEvents } from './users-events.service';

// The configured brokers as destinations of the relay (README "Brokers"): added at module init,
// so that the relay's first round routes events to them too; connected at bootstrap without
// holding up the start (a broker that is down fails deliveries, which the relay retries); closed
// at shutdown, after the relay stopped (in onModuleDestroy).
@Injectable()
export class BrokerDestinations implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly brokers: BrokerDestination[] = [];

  constructor(
    settings: UsersSettings,
    private readonly events: UsersEvents,
  ) {
    const { nats, amqp, handlerTimeoutMs, enabled, relay } = settings.events;
    if (!enabled || !relay) return;
    if (nats) this.brokers.push(new NatsDestination(nats, handlerTimeoutMs));
    if (amqp) this.brokers.push(new AmqpDestination(amqp, handlerTimeoutMs));
  }

  onModuleInit(): void {
    for (const broker of this.brokers) this.events.add(broker);
  }

  onApplicationBootstrap(): void {
    for (const broker of this.brokers) broker.warmUp();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.brokers.map((broker) => broker.close()));
  }
}
