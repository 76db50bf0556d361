import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { QueryInt } from '../../validation/decorators';
import { DELIVERY_STATUSES, type DeliveryStatus, type EventDelivery } from '../events/event-deliveries.service';
import { USER_EVENT_TYPES, type UserEventType } from '../events/user-event';
import type { WebhookView } from '../events/webhooks/webhook-subscriptions.service';
import { iso } from './user-response.dto';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://hooks.example.com/users', description: 'http(s), to a host of the allow-list (EVENTS_WEBHOOK_ALLOWED_HOSTS)' })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({ enum: USER_EVENT_TYPES, isArray: true, description: 'The event types it takes; every type when left out' })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(USER_EVENT_TYPES.length)
  @IsIn(USER_EVENT_TYPES, { each: true })
  types?: UserEventType[];
}

export class ReplayWebhookDto {
  @ApiProperty({ format: 'uuid', description: 'The event id (the webhook-id header the receiver saw)' })
  @IsUUID()
  eventId!: string;
}

export class WebhookDeliveriesQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @QueryInt(1, 1000, 'Page size, at most 1,000 (default 100)') limit?: number;

  @ApiPropertyOptional({ description: 'nextBefore of the previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,19}$/)
  before?: string;
}

// A subscription as it leaves over HTTP: never its secret (only the creation answer has it).
export class WebhookResponseDto {
  @ApiProperty({ description: 'A UUID, or "env" for the subscription the environment defines' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: USER_EVENT_TYPES, isArray: true, nullable: true, description: 'null: every type' }) types!: UserEventType[] | null;
  @ApiProperty({ description: 'false once deleted' }) enabled!: boolean;
  @ApiProperty({ enum: ['api', 'env'] }) source!: 'api' | 'env';
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) createdAt!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) createdBy!: string | null;
}

export class CreatedWebhookResponseDto extends WebhookResponseDto {
  @ApiProperty({ description: 'The signing secret (whsec_...), shown this once: keep it to verify the webhook-signature header' }) secret!: string;
}

export class WebhookDeliveryCountsDto {
  @ApiProperty() pending!: number;
  @ApiProperty() delivered!: number;
  @ApiProperty() dead!: number;
}

export class WebhookDetailResponseDto extends WebhookResponseDto {
  @ApiProperty({ type: WebhookDeliveryCountsDto }) deliveries!: WebhookDeliveryCountsDto;
}

export class WebhookListResponseDto {
  @ApiProperty({ type: [WebhookResponseDto] }) items!: WebhookResponseDto[];
}

export class WebhookDeliveryResponseDto {
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty({ enum: USER_EVENT_TYPES }) type!: UserEventType;
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty() sequence!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status!: DeliveryStatus;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
}

export class WebhookDeliveryPageDto {
  @ApiProperty({ type: [WebhookDeliveryResponseDto] }) items!: WebhookDeliveryResponseDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `before` for the next (older) page' }) nextBefore!: string | null;
}

export class ReplayResponseDto {
  @ApiProperty({ description: 'Deliveries reset to pending' }) replayed!: number;
}

export function toWebhookResponse(webhook: WebhookView): WebhookResponseDto {
  return {
    id: webhook.id,
    url: webhook.url,
    types: webhook.types,
    enabled: webhook.enabled,
    source: webhook.source,
    createdAt: iso(webhook.createdAt),
    createdBy: webhook.createdBy,
  };
}

export function toDeliveryPage(deliveries: EventDelivery[], limit: number): WebhookDeliveryPageDto {
  const items = deliveries.map(
    (d): WebhookDeliveryResponseDto => ({
      eventId: d.eventId,
      type: d.type,
      userId: d.userId,
      occurredAt: d.occurredAt.toISOString(),
      sequence: d.sequence,
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: iso(d.nextAttemptAt),
      lastError: d.lastError,
      deliveredAt: iso(d.deliveredAt),
    }),
  );
  return { items, nextBefore: items.length === limit ? items[items.length - 1].sequence : null };
}
