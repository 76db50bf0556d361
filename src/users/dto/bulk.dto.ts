import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsDateString,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { IsPassword, IsUserEmail } from './user-validators';
import { MAX_BULK_ITEMS } from '../user-rules';
import { UserProfileDto, UserProfileWithRolesDto } from './user-profile.dto';

export class BulkUserDto extends UserProfileWithRolesDto {
  @IsUserEmail() email!: string;

  @ApiPropertyOptional({ description: 'Plaintext; at most 100 per request. Or send hashedPassword.' })
  @IsOptional()
  @IsPassword()
  password?: string;

  @ApiPropertyOptional({ description: 'An argon2id (PHC) or bcrypt hash' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  hashedPassword?: string;
}

// Import rows also carry what an export wrote, so an export can be imported back.
export class ImportUserDto extends BulkUserDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() id?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsDateString() createdAt?: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) @IsOptional() @IsDateString() lastLoginAt?: string | null;
  // Written by the export, decided by the database on import: accepted so that an export can be
  // sent back as it is (a soft-deleted row is refused by the import itself).
  @ApiPropertyOptional() @IsOptional() @IsBoolean() isDeleted?: boolean;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) @IsOptional() @IsDateString() deletedAt?: string | null;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsDateString() updatedAt?: string;
  @ApiPropertyOptional() @IsOptional() @IsInt() version?: number;
}

export class BulkCreateDto {
  @ApiProperty({ type: [BulkUserDto], maxItems: MAX_BULK_ITEMS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => BulkUserDto)
  users!: BulkUserDto[];
}

export class ImportBodyDto {
  @ApiProperty({ type: [ImportUserDto], maxItems: MAX_BULK_ITEMS })
  @IsArray()
  @ArrayMaxSize(MAX_BULK_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => ImportUserDto)
  users!: ImportUserDto[];
}

// Email is not bulk-writable: many users cannot share one address.
export class BulkPatchDto extends UserProfileDto {}

export class BulkIdsDto {
  @ApiProperty({ type: [String], format: 'uuid', maxItems: MAX_BULK_ITEMS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_ITEMS)
  @IsUUID('all', { each: true })
  // Canonical lower case, as the guardrails compare ids (PostgreSQL ignores the case of a uuid).
  @Transform(({ value }: { value: unknown }) => (Array.isArray(value) ? value.map((id) => (typeof id === 'string' ? id.toLowerCase() : id)) : value))
  ids!: string[];
}

export class BulkUpdateDto extends BulkIdsDto {
  @ApiProperty({ type: BulkPatchDto })
  @ValidateNested()
  @Type(() => BulkPatchDto)
  data!: BulkPatchDto;
}
