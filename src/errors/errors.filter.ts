import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger, Optional, ServiceUnavailableException, type HttpServer } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ThrottlerException } from '@nestjs/throttler';
import { DomainError, ErrorCode, RateLimitExceededError, ShuttingDownError } from './domain-error';
import { isDatabaseUnavailable, isDataException, isQueryTimeout } from './database-errors';
import { STATUS_BY_CODE } from './http-status';
import { FailureRecorder } from './failure-recorder';
import { requestIdOf, routePatternOf, type HttpRequest } from '../common/http-exchange';

const CODE_BY_HTTP_STATUS: Partial<Record<number, ErrorCode>> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  406: ErrorCode.VALIDATION_FAILED,
  408: ErrorCode.REQUEST_TIMEOUT,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: ErrorCode.RATE_LIMITED,
  431: ErrorCode.HEADERS_TOO_LARGE,
};

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  requestId: string;
}

export interface ErrorResponse {
  body: ErrorBody;
  retryAfterSeconds?: number;
}

// Turns anything thrown into the one error body. Unknown errors become a 500 that reveals nothing;
// the detail goes to the log line with the same request id.
export function toErrorResponse(error: unknown, requestId: string, logger: Logger): ErrorResponse {
  if (error instanceof DomainError) {
    const body: ErrorBody = { statusCode: STATUS_BY_CODE[error.code], code: error.code, message: error.message, requestId };
    if (error.details !== undefined) body.details = error.details;
    const retryAfterSeconds =
      error instanceof RateLimitExceededError || error instanceof ShuttingDownError ? Math.max(1, Math.ceil(error.retryAfterMs / 1000)) : undefined;
    return { body, retryAfterSeconds };
  }
  if (error instanceof ThrottlerException) {
    return {
      body: { statusCode: 429, code: ErrorCode.RATE_LIMITED, message: 'Too many requests', requestId },
    };
  }
  // Terminus fails the health check with this exception; the database is the only dependency that
  // fails it (a Redis outage is reported degraded).
  if (error instanceof ServiceUnavailableException) {
    return databaseUnavailable(requestId, indicatorStatuses(error.getResponse()));
  }
  const httpStatus = httpStatusOf(error);
  if (httpStatus !== undefined && httpStatus < 500) {
    const code = CODE_BY_HTTP_STATUS[httpStatus] ?? ErrorCode.VALIDATION_FAILED;
    return { body: { statusCode: httpStatus, code, message: httpMessageOf(error), requestId } };
  }
  if (isQueryTimeout(error)) {
    logger.warn({ err: error, requestId }, 'statement timeout');
    const code = ErrorCode.QUERY_TIMEOUT;
    return { body: { statusCode: STATUS_BY_CODE[code], code, message: 'The query took longer than the statement timeout', requestId } };
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error, requestId }, 'database unavailable');
    return databaseUnavailable(requestId);
  }
  // Last line of defence: a value PostgreSQL refused (SQLSTATE class 22, data exception) that
  // validation should have caught is still bad input, never a 500. Logged to be fixed upstream.
  if (isDataException(error)) {
    logger.warn({ err: error, requestId }, 'data exception reached the errors filter');
    return { body: { statusCode: 400, code: ErrorCode.VALIDATION_FAILED, message: 'A value is malformed or out of range', requestId } };
  }
  logger.error({ err: error, requestId }, 'unhandled error');
  return { body: { statusCode: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error', requestId } };
}

function databaseUnavailable(requestId: string, details?: unknown): ErrorResponse {
  const body: ErrorBody = {
    statusCode: HttpStatus.SERVICE_UNAVAILABLE,
    code: ErrorCode.DATABASE_UNAVAILABLE,
    message: 'The database is unavailable; retry shortly',
    requestId,
  };
  if (details !== undefined) body.details = details;
  return { body, retryAfterSeconds: 1 };
}

// Only each indicator's up/down: terminus's own messages name hosts and ports.
function indicatorStatuses(response: unknown): Record<string, string> | undefined {
  const details = (response as { details?: Record<string, { status?: unknown }> } | null)?.details;
  if (!details || typeof details !== 'object') return undefined;
  return Object.fromEntries(Object.entries(details).map(([name, result]) => [name, String(result?.status)]));
}

function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  // The adapters' own errors (body too large, bad content type, malformed JSON) carry statusCode.
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

function httpMessageOf(error: unknown): string {
  if (error instanceof HttpException) {
    const response = error.getResponse();
    if (typeof response === 'object' && response && 'message' in response) {
      const message = (response).message;
      return Array.isArray(message) ? message.join('; ') : String(message);
    }
    return error.message;
  }
  return error instanceof Error ? error.message : 'Bad request';
}

@Catch()
export class ErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ErrorsFilter.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Optional() private readonly auditor?: FailureRecorder,
  ) {}

  async catch(error: unknown, host: ArgumentsHost): Promise<void> {
    const http = host.switchToHttp();
    const request = http.getRequest<HttpRequest & { user?: { id: string } }>();
    const response = toErrorResponse(error, requestIdOf(request), this.logger);
    // Every failed @Audited request is audited here, with the status it gets: guard rejections
    // (401, 403, 429) never reach the audit interceptor at all. Not when the database is down: the audit row could not be written, and trying would only
    // hold the answer for another connect timeout.
    if (response.body.statusCode !== 503) await this.auditor?.recordFailure(request, { status: response.body.statusCode, errorCode: response.body.code });
    if (response.body.statusCode === 401 || response.body.statusCode === 403) this.logDenied(request, response.body);
    sendError(this.adapterHost.httpAdapter, http.getResponse(), response);
  }

  // Every refused authentication or authorization leaves a security log line, on read routes
  // too (mutating routes also get an audit row): who, from where, what, and why.
  private logDenied(request: HttpRequest & { user?: { id: string } }, body: ErrorBody): void {
    this.logger.warn(
      {
        requestId: body.requestId,
        method: request.method,
        route: routePatternOf(request),
        status: body.statusCode,
        code: body.code,
        actorId: request.user?.id ?? null,
        clientAddress: request.ip,
      },
      'access denied',
    );
  }
}

// Through the HTTP adapter (Express or Fastify), so the one body is written the same way under both.
export function sendError(http: Pick<HttpServer, 'isHeadersSent' | 'setHeader' | 'reply'>, reply: unknown, { body, retryAfterSeconds }: ErrorResponse): void {
  if (http.isHeadersSent(reply)) return;
  if (retryAfterSeconds !== undefined) http.setHeader(reply, 'Retry-After', String(retryAfterSeconds));
  http.setHeader(reply, 'content-type', 'application/json; charset=utf-8');
  http.reply(reply, body, body.statusCode);
}
