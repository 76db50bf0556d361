import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { QueryBool, QueryDate, QueryInt } from '../../validation/decorators';
import { IsRole, IsUserEmail } from './user-validators';
import { MAX_PAGE_LIMIT } from '../../common/paging';
import { FIELD_NAME_PATTERN } from '../user-rules';
import { MAX_INACTIVE_DAYS } from '../retention/retention.settings';

const MAX_OFFSET = 100_000_000;

export class PageQueryDto {
  @QueryInt(0, MAX_OFFSET, 'Rows to skip (prefer /users/keyset for deep pages)') offset?: number;
  @QueryInt(1, MAX_PAGE_LIMIT, `Page size, at most ${MAX_PAGE_LIMIT}`) limit?: number;
}

export class ListUsersQueryDto extends PageQueryDto {
  @QueryBool('Only active (true) or inactive (false) users') isActive?: boolean;

  @ApiPropertyOptional({ example: 'admin' })
  @IsOptional()
  @IsString()
  @IsRole()
  role?: string;

  @QueryDate('Created at or after (inclusive)') createdFrom?: Date;
  @QueryDate('Created before (exclusive)') createdTo?: Date;
  @QueryBool('Include soft-deleted users') withDeleted?: boolean;
}

class KeysetPageQueryDto {
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  after?: string;

  @QueryInt(1, MAX_PAGE_LIMIT) limit?: number;
}

export class KeysetQueryDto extends KeysetPageQueryDto {
  @QueryBool('Include soft-deleted users') withDeleted?: boolean;
}

const InactiveForDays = () =>
  applyDecorators(
    ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_INACTIVE_DAYS, example: 90, description: 'Days since the last login (or the creation, for users who never logged in)' }),
    QueryInt(1, MAX_INACTIVE_DAYS),
  );

export class DormantCountQueryDto {
  @InactiveForDays() inactiveForDays!: number;
}

export class DormantQueryDto extends KeysetPageQueryDto {
  @InactiveForDays() inactiveForDays!: number;
}

export class SearchQueryDto extends PageQueryDto {
  @ApiProperty({
    description:
      'Case-insensitive. Three characters or more: a substring of the email or the full name (%, _ and \\ are literal). ' +
      'One or two letters or digits: the start of the email or of a word of the full name.',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(254)
  q!: string;
}

export class CountQueryDto {
  @QueryBool() isActive?: boolean;
}

export class ByFieldQueryDto extends PageQueryDto {
  @ApiProperty({ example: 'plan' })
  @IsString()
  @Matches(FIELD_NAME_PATTERN)
  field!: string;

  @ApiProperty({ description: 'A JSON literal (42, true, null, "text") or plain text', example: 'pro' })
  @IsString()
  @MaxLength(1000)
  value!: string;
}

export class SignupsQueryDto {
  @ApiProperty({ type: 'integer', example: 2026 })
  @QueryInt(1970, 9999)
  year!: number;
}

export class EmailAvailabilityQueryDto {
  @IsUserEmail() email!: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  excludeUserId?: string;
}

export class ExportQueryDto {
  @ApiPropertyOptional({ enum: ['csv', 'json'], default: 'csv' })
  @IsOptional()
  @IsIn(['csv', 'json'])
  format?: 'csv' | 'json';

  @QueryBool('Include soft-deleted users') withDeleted?: boolean;
}

export class ImportQueryDto {
  @QueryBool('Validate only; write nothing') dryRun?: boolean;

  @ApiPropertyOptional({ enum: ['error', 'skip', 'update'], default: 'error' })
  @IsOptional()
  @IsIn(['error', 'skip', 'update'])
  onConflict?: 'error' | 'skip' | 'update';
}

export class GetUserQueryDto {
  @ApiPropertyOptional({ enum: ['files'] })
  @IsOptional()
  @IsIn(['files'])
  include?: 'files';
}
