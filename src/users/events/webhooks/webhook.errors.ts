import { DomainError, ErrorCode } from '../../../errors/domain-error';

export class WebhookNotFoundError extends DomainError {
  readonly code = ErrorCode.NOT_FOUND;

  constructor(id: string) {
    super(`Webhook subscription ${id} not found`, { id });
  }
}

export class NothingToReplayError extends DomainError {
  readonly code = ErrorCode.NOT_FOUND;

  constructor(id: string, eventId: string) {
    super(`Webhook subscription ${id} has no delivery of event ${eventId} to replay (or it is still pending)`, { id, eventId });
  }
}
