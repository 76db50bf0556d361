import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { isUuid } from '../../../common/paging';
import { Db } from '../../../database/db.service';
import { ValidationFailedError } from '../../../errors/domain-error';
import { UsersSettings } from '../../users.options';
import { EventDeliveries, type DeliveryQuery, type DeliveryStatus, type EventDelivery } from '../event-deliveries.service';
import type { WebhooksSettings } from '../events.settings';
import type { UserEventType } from '../user-event';
import { UsersEvents } from '../users-events.service';
import { WebhookAllowList } from './webhook-allow-list';
import { newWebhookSecret, WebhookDestination, webhookDestinationName } from './webhook-destination';
import { WebhookStore, type WebhookSubscription } from './webhook-store';
import { NothingToReplayError, WebhookNotFoundError } from './webhook.errors';

// How often an instance reloads the subscriptions, to pick up those made through another one.
const REFRESH_MS = 5000;
// The id of the subscription the environment defines (destination `webhook:env`).
export const ENV_WEBHOOK_ID = 'env';

export interface WebhookView extends Omit<WebhookSubscription, 'createdAt'> {
  createdAt: Date | null;
  source: 'api' | 'env';
}

// Webhook subscriptions: made and removed through the admin routes (or one from the
// environment), and kept as the relay's destinations on every instance. Each instance loads the
// enabled ones before its relay starts, reloads them every few seconds (so instances converge),
// and at once after a change made through its own routes. The relay routes events to a stored
// subscription from its commit on, even on an instance that has not loaded it yet (its deliveries
// wait for the reload); a removed one gets no new deliveries, and its pending ones stay listed.
@Injectable()
export class WebhookSubscriptions implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('WebhookSubscriptions');
  private readonly settings: WebhooksSettings;
  private readonly allowList: WebhookAllowList;
  private readonly registered = new Map<string, () => void>();
  private timer?: NodeJS.Timeout;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly users: UsersSettings,
    private readonly store: WebhookStore,
    private readonly events: UsersEvents,
    private readonly deliveries: EventDeliveries,
    private readonly db: Db,
  ) {
    this.settings = users.events.webhooks;
    this.allowList = new WebhookAllowList(this.settings.allowedHosts);
  }

  // Before any relay round (the relay starts at bootstrap): events committed while the app was
  // down are routed to every subscription.
  async onModuleInit(): Promise<void> {
    if (!this.users.events.enabled) return;
    const env = this.settings.env;
    if (env) this.registered.set(ENV_WEBHOOK_ID, this.events.add(new WebhookDestination({ id: ENV_WEBHOOK_ID, ...env }, this.allowList)));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch((error: Error) => this.logger.warn({ msg: 'webhook subscriptions refresh failed', err: error.message })), REFRESH_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    for (const off of this.registered.values()) off();
    this.registered.clear();
  }

  // Reloads the enabled subscriptions and adds or removes their destinations; one at a time.
  refresh(): Promise<void> {
    const next = this.refreshing.catch(() => undefined).then(() => this.sync());
    this.refreshing = next;
    return next;
  }

  async create(url: string, types: readonly UserEventType[] | undefined, createdBy: string | null): Promise<{ subscription: WebhookView; secret: string }> {
    const issue = this.allowList.urlIssue(url);
    if (issue) throw ValidationFailedError.field('url', issue);
    const secret = newWebhookSecret();
    const subscription = await this.store.insert({ url, secret, types: types ? [...new Set(types)] : null, createdBy });
    await this.afterChange();
    return { subscription: { ...subscription, source: 'api' }, secret };
  }

  // Stored subscriptions still enabled, and the environment's, oldest first.
  async list(): Promise<WebhookView[]> {
    const stored = (await this.store.listEnabled()).map(({ secret: _secret, ...subscription }): WebhookView => ({ ...subscription, source: 'api' }));
    const env = this.envView();
    return env ? [env, ...stored] : stored;
  }

  // One subscription (a removed one too), with how many of its deliveries are in each status.
  async get(id: string): Promise<WebhookView & { deliveries: Record<DeliveryStatus, number> }> {
    const subscription = await this.find(id);
    return { ...subscription, deliveries: await this.store.deliveryCounts(webhookDestinationName(subscription.id)) };
  }

  async remove(id: string): Promise<void> {
    if (id === ENV_WEBHOOK_ID) throw ValidationFailedError.field('id', 'the environment defines this subscription (EVENTS_WEBHOOK_URL): change it there');
    if (!isUuid(id) || !(await this.store.disable(id.toLowerCase()))) throw new WebhookNotFoundError(id);
    await this.afterChange();
  }

  async listDeliveries(id: string, query: Omit<DeliveryQuery, 'destination' | 'userId'>): Promise<EventDelivery[]> {
    const subscription = await this.find(id);
    return this.deliveries.list({ ...query, destination: webhookDestinationName(subscription.id) });
  }

  // Delivers an event to an enabled subscription again (EventDeliveries.replay).
  async replay(id: string, eventId: string): Promise<number> {
    const subscription = await this.find(id);
    if (!subscription.enabled) throw new WebhookNotFoundError(id);
    const count = await this.deliveries.replay(eventId, webhookDestinationName(subscription.id));
    if (count === 0) throw new NothingToReplayError(subscription.id, eventId);
    return count;
  }

  private async find(id: string): Promise<WebhookView> {
    const env = id === ENV_WEBHOOK_ID ? this.envView() : undefined;
    if (env) return env;
    const subscription = isUuid(id) ? await this.store.get(id.toLowerCase()) : undefined;
    if (!subscription) throw new WebhookNotFoundError(id);
    return { ...subscription, source: 'api' };
  }

  private envView(): WebhookView | undefined {
    const env = this.settings.env;
    return env && { id: ENV_WEBHOOK_ID, url: env.url, types: env.types, enabled: true, createdAt: null, createdBy: null, source: 'env' };
  }

  // Once the change commits (the route's audited transaction), so that the reload sees it.
  private async afterChange(): Promise<void> {
    if (this.users.events.enabled) await this.db.afterCommit(() => this.refresh());
  }

  private async sync(): Promise<void> {
    const rows = await this.store.listEnabled();
    const enabled = new Set(rows.map((row) => row.id));
    for (const [id, off] of this.registered) {
      if (id !== ENV_WEBHOOK_ID && !enabled.has(id)) {
        off();
        this.registered.delete(id);
      }
    }
    for (const row of rows) {
      if (this.registered.has(row.id)) continue;
      try {
        this.registered.set(row.id, this.events.add(new WebhookDestination(row, this.allowList)));
      } catch (error) {
        // A row written around the routes (a secret that is no whsec_ one) must not stop the others.
        this.logger.error({ msg: 'webhook subscription skipped', webhookId: row.id, err: (error as Error).message });
      }
    }
  }
}
