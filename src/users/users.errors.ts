import { DomainError, ErrorCode, ValidationFailedError } from '../errors/domain-error';

export class UserNotFoundError extends DomainError {
  readonly code = ErrorCode.USER_NOT_FOUND;

  constructor(readonly userId: string) {
    super(`User ${userId} not found`, { id: userId });
  }
}

export interface ConflictDetail {
  email: string;
  index?: number;
}

export class UserAlreadyExistsError extends DomainError {
  readonly code = ErrorCode.USER_ALREADY_EXISTS;

  constructor(readonly conflicts: ConflictDetail[]) {
    super(`A user already exists with ${conflicts.length === 1 ? 'this email' : 'these emails'}`, { conflicts });
  }

  get emails(): string[] {
    return this.conflicts.map((c) => c.email);
  }
}

// The repository's validation error is the app's one: whichever layer refused a value (paging,
// audit, rate limits, the users' own rules), callers catch one class.
export const UserValidationError = ValidationFailedError;
export type UserValidationError = ValidationFailedError;

export class ConcurrentUpdateError extends DomainError {
  readonly code = ErrorCode.VERSION_CONFLICT;

  constructor(
    readonly userId: string,
    readonly expectedVersion: number,
  ) {
    super(`User ${userId} changed since version ${expectedVersion}`, { id: userId, expectedVersion });
  }
}

export { RateLimitExceededError } from '../errors/domain-error';
