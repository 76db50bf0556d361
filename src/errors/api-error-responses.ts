import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ErrorCode } from './domain-error';
import { STATUS_BY_CODE } from './http-status';

// The one error body every route answers with (see toErrorResponse), as the OpenAPI document shows it.
export class ErrorResponseDto {
  @ApiProperty({ type: 'integer', example: 404 }) statusCode!: number;
  @ApiProperty({ enum: ErrorCode }) code!: ErrorCode;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({
    oneOf: [{ type: 'array', items: { type: 'object' } }, { type: 'object' }],
    description: 'Machine-readable detail, e.g. the field issues of a VALIDATION_FAILED',
  })
  details?: unknown;
  @ApiProperty({ description: "The caller's X-Request-Id or a fresh UUID; also in the answer's X-Request-Id header and the failure's log line" })
  requestId!: string;
}

// The codes a status can carry, from the one code → status table, so the document cannot drift from it.
function codesFor(status: number): string {
  return Object.entries(STATUS_BY_CODE)
    .filter(([, s]) => s === status)
    .map(([code]) => code)
    .join(', ');
}

// Documents the error statuses an operation (or every operation of a controller) can answer.
export const ApiErrorResponses = (...statuses: number[]) =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, type: ErrorResponseDto, description: `Error body; code ${codesFor(status)}` })));
