import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { getMetadataStorage, validate } from 'class-validator';
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

// What a body must look like before class-transformer sees it: an object with only the DTO's
// properties, and no top-level array longer than its @ArrayMaxSize. plainToInstance walks every
// value of a body, unknown ones included, so these are checked first, in time proportional to
// the number of top-level keys. The messages are class-validator's own.
export function bodyShapeIssues(dto: new () => object, body: unknown): FieldIssue[] {
  if (body === undefined || body === null) return [];
  if (typeof body !== 'object' || Array.isArray(body)) return [{ field: 'body', reason: 'the body must be a JSON object' }];
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  const known = new Set(rules.map((rule) => rule.propertyName));
  const issues: FieldIssue[] = Object.keys(body)
    .filter((key) => !known.has(key))
    .map((key) => ({ field: key, reason: `property ${key} should not exist` }));
  for (const rule of rules) {
    const value = (body as Record<string, unknown>)[rule.propertyName];
    const max = rule.constraints?.[0] as unknown;
    if (rule.name === 'arrayMaxSize' && Array.isArray(value) && typeof max === 'number' && value.length > max) {
      issues.push({ field: rule.propertyName, reason: `${rule.propertyName} must contain no more than ${max} elements` });
    }
  }
  return issues;
}

// The app's pipe: the body's shape is checked before any transformation, and __proto__,
// constructor and prototype keys are refused (Nest's pipe would delete them silently, so a
// request would store less than it sent and be told nothing).
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && typeof metadata.metatype === 'function' && this.toValidate(metadata)) {
      const issues = bodyShapeIssues(metadata.metatype as new () => object, value);
      if (issues.length) throw new ValidationFailedError(issues);
    }
    return super.transform(value, metadata);
  }

  protected override stripProtoKeys(value: unknown): void {
    const paths = reservedKeyPaths(value);
    if (paths.length) throw new ValidationFailedError(paths.map((field) => ({ field, reason: RESERVED_KEYS_REASON })));
  }
}

export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(issuesOf(errors)),
  });
}

// What the global pipe would report about a JSON body, for pipes that add their own checks to it:
// its shape first (nothing is transformed while it is wrong), then the reserved keys by path and
// the DTO's issues about the rest of the body.
export async function bodyIssues(dto: ClassConstructor<object>, body: unknown): Promise<FieldIssue[]> {
  const shape = bodyShapeIssues(dto, body);
  if (shape.length) return shape;
  const reserved = reservedKeyPaths(body).map((field) => ({ field, reason: RESERVED_KEYS_REASON }));
  const errors = await validate(plainToInstance(dto, withoutReservedKeys(body) ?? {}), VALIDATOR_OPTIONS);
  return [...reserved, ...issuesOf(errors)];
}
