import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsDate, IsInt, IsOptional, Max, Min } from 'class-validator';
import { isRealTimestamp } from '../common/calendar';

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
