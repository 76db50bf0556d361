import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches, MaxLength, MinLength, ValidateBy } from 'class-validator';
import { emailProblem } from '../email';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../password';
import { metadataIssue, ROLE_PATTERN } from '../user-rules';

// Validation decorators of the users' own values, for request DTOs (the generic ones are in
// src/validation/decorators.ts).

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
