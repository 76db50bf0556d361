import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import { IsMetadata, IsRole } from './user-validators';
import { FULL_NAME_MAX } from '../user-rules';

// The profile fields that several requests carry, declared once.
export class UserProfileDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: FULL_NAME_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(FULL_NAME_MAX)
  fullName?: string | null;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() isActive?: boolean;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsMetadata()
  metadata?: Record<string, unknown>;
}

export class UserProfileWithRolesDto extends UserProfileDto {
  @ApiPropertyOptional({ type: [String], example: ['user'] })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @IsRole(true)
  roles?: string[];
}
