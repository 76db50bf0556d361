import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsDate, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateBy } from 'class-validator';
import { isRealTimestamp } from '../common/calendar';
import { emailProblem } from '../users/email';
import { metadataIssue, ROLE_PATTERN } from '../users/repository/user-values';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../users/password';

// The shared validation vocabulary of request DTOs. Query strings arrive as strings: they are
// parsed strictly here ("false" is false, "1e9" and "-1" are not integers, repeated keys are
// arrays and fail), never with implicit conversion.

const strictInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value);
const strictBool = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const strictDate = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) || !isRealTimestamp(value) ? value : date;
};

export const QueryInt = (min: number, max: number, description?: string) =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: min, maximum: max, description }),
    IsOptional(),
    Transform(strictInt),
    IsInt(),
    Min(min),
    Max(max),
  );

export const QueryBool = (description?: string) =>
  applyDecorators(ApiPropertyOptional({ type: 'boolean', description }), IsOptional(), Transform(strictBool), IsBoolean());

export const QueryDate = (description?: string) =>
  applyDecorators(ApiPropertyOptional({ type: 'string', format: 'date-time', description }), IsOptional(), Transform(strictDate), IsDate());

export const IsUserEmail = () =>
  applyDecorators(
    ApiProperty({ example: 'ada@example.com', maxLength: 254 }),
    ValidateBy({
      name: 'isUserEmail',
      validator: {
        validate: (value: unknown) => emailProblem(value) === undefined,
        defaultMessage: (args) => `${args?.property ?? 'email'} ${emailProblem(args?.value) ?? 'is invalid'}`,
      },
    }),
  );

export const IsPassword = () =>
  applyDecorators(
    ApiProperty({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' }),
    IsString(),
    MinLength(PASSWORD_MIN_LENGTH),
    MaxLength(PASSWORD_MAX_LENGTH),
  );

export const IsRole = (each = false) =>
  applyDecorators(Matches(ROLE_PATTERN, { each, message: 'roles are lower-case identifiers ([a-z][a-z0-9_-]{0,31})' }));

// Custom fields, checked by the repository's own rule. The value is the body's own object:
// class-transformer rebuilds nested objects and silently drops keys named like a member of
// Object.prototype (`toString`, `hasOwnProperty`), which would store less than was sent.
export const IsMetadata = () =>
  applyDecorators(
    Transform(({ obj }: { obj: Record<string, unknown> }) => obj.metadata),
    ValidateBy({
      name: 'isMetadata',
      validator: {
        validate: (value: unknown) => metadataIssue(value) === undefined,
        defaultMessage: (args) => `metadata ${metadataIssue(args?.value)?.reason ?? 'is invalid'}`,
      },
    }),
  );
