import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from './domain-error';

// Each error code maps to exactly one HTTP status.
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCode.USER_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [ErrorCode.NOT_FOUND]: HttpStatus.NOT_FOUND,
  [ErrorCode.USER_ALREADY_EXISTS]: HttpStatus.CONFLICT,
  // An expected version that no longer matches is a failed precondition (If-Match) in HTTP.
  [ErrorCode.VERSION_CONFLICT]: HttpStatus.PRECONDITION_FAILED,
  [ErrorCode.VALIDATION_FAILED]: HttpStatus.BAD_REQUEST,
  [ErrorCode.RATE_LIMITED]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.UNAUTHENTICATED]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.FORBIDDEN]: HttpStatus.FORBIDDEN,
  [ErrorCode.GUARDRAIL_VIOLATION]: HttpStatus.FORBIDDEN,
  [ErrorCode.PAYLOAD_TOO_LARGE]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.REQUEST_TIMEOUT]: HttpStatus.REQUEST_TIMEOUT,
  // Nest's HttpStatus has no 431.
  [ErrorCode.HEADERS_TOO_LARGE]: 431,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  [ErrorCode.DATABASE_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.QUERY_TIMEOUT]: HttpStatus.GATEWAY_TIMEOUT,
  [ErrorCode.SHUTTING_DOWN]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.INTERNAL_ERROR]: HttpStatus.INTERNAL_SERVER_ERROR,
};

