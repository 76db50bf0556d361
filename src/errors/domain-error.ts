// Stable, machine-readable codes. The errors filter maps each one to exactly one HTTP status,
// so services and the repository stay transport-agnostic.
export enum ErrorCode {
  USER_NOT_FOUND = 'USER_NOT_FOUND',
  USER_ALREADY_EXISTS = 'USER_ALREADY_EXISTS',
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  RATE_LIMITED = 'RATE_LIMITED',
  VERSION_CONFLICT = 'VERSION_CONFLICT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  GUARDRAIL_VIOLATION = 'GUARDRAIL_VIOLATION',
  NOT_FOUND = 'NOT_FOUND',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  REQUEST_TIMEOUT = 'REQUEST_TIMEOUT',
  HEADERS_TOO_LARGE = 'HEADERS_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  QUERY_TIMEOUT = 'QUERY_TIMEOUT',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  INTERNAL_ERROR = 'INTERNAL_ERROR',
}

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;

  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldIssue {
  field: string;
  reason: string;
  index?: number;
}

// The one way to build an issue: `index` (the item of a bulk body) only when there is one.
export function fieldIssue(field: string, reason: string, index?: number): FieldIssue {
  return index === undefined ? { field, reason } : { field, reason, index };
}

// An answer never grows past these, however many issues a large bulk body has (10,000 items with
// dozens of bad keys each would otherwise answer tens of megabytes): the message names the first
// few, `details` lists issues up to a bound, then one entry that counts the rest.
const MESSAGE_ISSUES = 10;
export const MAX_REPORTED_ISSUES = 10_000;

function describe(issue: FieldIssue): string {
  return (issue.index === undefined ? '' : `[${issue.index}] `) + `${issue.field}: ${issue.reason}`;
}

function summary(issues: FieldIssue[]): string {
  const named = issues.slice(0, MESSAGE_ISSUES).map(describe).join('; ');
  return issues.length > MESSAGE_ISSUES ? `${named}; and ${issues.length - MESSAGE_ISSUES} more issues (see details)` : named;
}

function reported(issues: FieldIssue[]): FieldIssue[] {
  if (issues.length <= MAX_REPORTED_ISSUES) return issues;
  return [...issues.slice(0, MAX_REPORTED_ISSUES), { field: 'body', reason: `${issues.length - MAX_REPORTED_ISSUES} more issues not listed` }];
}

export class ValidationFailedError extends DomainError {
  readonly code = ErrorCode.VALIDATION_FAILED;

  static field(field: string, reason: string): ValidationFailedError {
    return new ValidationFailedError([{ field, reason }]);
  }

  constructor(
    readonly issues: FieldIssue[],
    message = summary(issues),
  ) {
    super(message, reported(issues));
  }
}

export class RateLimitExceededError extends DomainError {
  readonly code = ErrorCode.RATE_LIMITED;

  constructor(
    readonly retryAfterMs: number,
    action?: string,
  ) {
    super(`Too many requests${action ? ` for ${action}` : ''}; retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
      retryAfterMs,
      ...(action ? { action } : {}),
    });
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = ErrorCode.UNAUTHENTICATED;

  constructor(message = 'Authentication required') {
    super(message);
  }
}

export class ForbiddenError extends DomainError {
  readonly code = ErrorCode.FORBIDDEN;

  constructor(message = 'Insufficient role') {
    super(message);
  }
}

export class GuardrailError extends DomainError {
  readonly code = ErrorCode.GUARDRAIL_VIOLATION;
}

export class DatabaseUnavailableError extends DomainError {
  readonly code = ErrorCode.DATABASE_UNAVAILABLE;

  constructor() {
    super('The database is unavailable; retry shortly');
  }
}

// A request that arrives while this instance drains for shutdown: another instance (or this one,
// restarted) will serve it.
export class ShuttingDownError extends DomainError {
  readonly code = ErrorCode.SHUTTING_DOWN;
  readonly retryAfterMs = 1000;

  constructor() {
    super('This instance is shutting down; retry shortly');
  }
}
