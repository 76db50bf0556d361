import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validate } from 'class-validator';
import { RESERVED_KEYS_REASON, reservedKeyPaths, withoutReservedKeys } from '../common/reserved-keys';
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

// Nest's pipe deletes __proto__, constructor and prototype keys from a body before validating it,
// so a request would store less than it sent and be told nothing: they are refused instead.
class ReservedKeysRefusingPipe extends ValidationPipe {
  protected override stripProtoKeys(value: unknown): void {
    const paths = reservedKeyPaths(value);
    if (paths.length) throw new ValidationFailedError(paths.map((field) => ({ field, reason: RESERVED_KEYS_REASON })));
  }
}

export function createValidationPipe(): ValidationPipe {
  return new ReservedKeysRefusingPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(issuesOf(errors)),
  });
}

// What the global pipe would report about a JSON body, for pipes that add their own checks to it:
// the reserved keys by path, then the DTO's issues about the rest of the body.
export async function bodyIssues(dto: ClassConstructor<object>, body: unknown): Promise<FieldIssue[]> {
  const reserved = reservedKeyPaths(body).map((field) => ({ field, reason: RESERVED_KEYS_REASON }));
  const errors = await validate(plainToInstance(dto, withoutReservedKeys(body) ?? {}), VALIDATOR_OPTIONS);
  return [...reserved, ...issuesOf(errors)];
}
