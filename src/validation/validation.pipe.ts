import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ValidationFailedError, type FieldIssue } from '../errors/domain-error';

// Flattens nested errors into one issue per field, with paths such as `users.3.email`.
export function issuesOf(errors: ValidationError[], parent = ''): FieldIssue[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((reason) => ({ field, reason }));
    return [...own, ...issuesOf(error.children ?? [], field)];
  });
}

// Registered as APP_PIPE so tests run the same pipeline as production. Unknown fields are
// rejected (naming them), not silently dropped.
export const VALIDATOR_OPTIONS = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true } as const;

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(issuesOf(errors)),
  });
}
