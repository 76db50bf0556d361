import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audited, AuditedByHandler } from '../../audit/audit.decorators';
import type { AuditedRequest } from '../../audit/audited-request';
import { RequestAuditor } from '../../audit/request-auditor.service';
import { NoThrottle } from '../../throttling/throttling.decorators';
import { CurrentUser } from '../auth/authenticated-user';
import { Roles } from '../auth/roles.decorator';
import {
  CreatedWebhookResponseDto,
  CreateWebhookDto,
  ReplayResponseDto,
  ReplayWebhookDto,
  toDeliveryPage,
  toWebhookResponse,
  WebhookDeliveriesQueryDto,
  WebhookDeliveryPageDto,
  WebhookDetailResponseDto,
  WebhookListResponseDto,
} from '../dto/webhook.dto';
import { WebhookSubscriptions } from '../events/webhooks/webhook-subscriptions.service';
import type { Actor } from '../users.service';
import { UsersRoutes } from './users-routes.decorator';
import { ApiErrorResponses } from '../../errors/api-error-responses';

// Webhook subscriptions to the user lifecycle events (README "Webhooks"). The path parameter is
// not `id`: the audit names the users a request is about, and a subscription is not one.
@ApiTags('webhooks')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 503)
@Roles('admin')
@NoThrottle()
@UsersRoutes()
@Controller('users/webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhookSubscriptions,
    private readonly auditor: RequestAuditor,
  ) {}

  @Post()
  @AuditedByHandler('webhook.create')
  @ApiOperation({ operationId: 'createWebhook', summary: 'Subscribe a URL to the user events; the answer carries the signing secret, this once' })
  @ApiErrorResponses(400)
  @ApiCreatedResponse({ type: CreatedWebhookResponseDto })
  async createWebhook(@CurrentUser() actor: Actor, @Body() body: CreateWebhookDto, @Req() request: AuditedRequest): Promise<CreatedWebhookResponseDto> {
    // Wrapped, so that the audit row does not take the subscription's id for a user's.
    const { created } = await this.auditor.commitWith(request, async () => ({ created: await this.webhooks.create(body.url, body.types, actor.id) }));
    return { ...toWebhookResponse(created.subscription), secret: created.secret };
  }

  @Get()
  @ApiOperation({ operationId: 'listWebhooks', summary: 'The active subscriptions (without their secrets)' })
  @ApiOkResponse({ type: WebhookListResponseDto })
  async listWebhooks(): Promise<WebhookListResponseDto> {
    return { items: (await this.webhooks.list()).map(toWebhookResponse) };
  }

  @Get(':webhookId')
  @ApiOperation({ operationId: 'getWebhook', summary: 'One subscription (a deleted one too), with its deliveries counted by status' })
  @ApiErrorResponses(404)
  @ApiOkResponse({ type: WebhookDetailResponseDto })
  async getWebhook(@Param('webhookId') id: string): Promise<WebhookDetailResponseDto> {
    const webhook = await this.webhooks.get(id);
    return { ...toWebhookResponse(webhook), deliveries: webhook.deliveries };
  }

  @Delete(':webhookId')
  @HttpCode(204)
  @Audited('webhook.delete')
  @ApiOperation({ operationId: 'deleteWebhook', summary: 'Stop delivering to a subscription (its deliveries stay listed)' })
  @ApiErrorResponses(404)
  @ApiNoContentResponse()
  async deleteWebhook(@Param('webhookId') id: string): Promise<void> {
    await this.webhooks.remove(id);
  }

  @Get(':webhookId/deliveries')
  @ApiOperation({ operationId: 'listWebhookDeliveries', summary: "A subscription's deliveries, newest first: pending (with retries), delivered, dead" })
  @ApiErrorResponses(400, 404)
  @ApiOkResponse({ type: WebhookDeliveryPageDto })
  async listWebhookDeliveries(@Param('webhookId') id: string, @Query() query: WebhookDeliveriesQueryDto): Promise<WebhookDeliveryPageDto> {
    const limit = query.limit ?? 100;
    return toDeliveryPage(await this.webhooks.listDeliveries(id, { status: query.status, before: query.before, limit }), limit);
  }

  @Post(':webhookId/replay')
  @HttpCode(202)
  @Audited('webhook.replay')
  @ApiOperation({ operationId: 'replayWebhook', summary: 'Deliver an event to the subscription again (a dead letter, or one the receiver lost)' })
  @ApiErrorResponses(400, 404)
  @ApiAcceptedResponse({ type: ReplayResponseDto })
  async replayWebhook(@Param('webhookId') id: string, @Body() body: ReplayWebhookDto): Promise<ReplayResponseDto> {
    return { replayed: await this.webhooks.replay(id, body.eventId) };
  }
}
