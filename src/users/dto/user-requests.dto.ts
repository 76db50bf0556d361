import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsObject, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { IsPassword, IsRole, IsUserEmail } from '../../validation/decorators';
import { FULL_NAME_MAX } from '../repository/user-values';

export class CreateUserDto {
  @IsUserEmail() email!: string;
  @IsPassword() password!: string;
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: FULL_NAME_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(FULL_NAME_MAX)
  fullName?: string | null;
}

// PATCH /users/:id: only these fields are writable; anything else is a 400 naming the field.
export class UpdateUserDto {
  @ApiPropertyOptional({ example: 'ada@example.com' })
  @IsOptional()
  @IsUserEmail()
  email?: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: FULL_NAME_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(FULL_NAME_MAX)
  fullName?: string | null;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() isActive?: boolean;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class SetPasswordDto {
  @IsPassword() password!: string;
}

export class RoleDto {
  @ApiProperty({ example: 'admin' })
  @IsString()
  @IsRole()
  role!: string;
}

export class UpsertDefaultsDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: FULL_NAME_MAX })
  @IsOptional()
  @IsString()
  @MaxLength(FULL_NAME_MAX)
  fullName?: string | null;

  @ApiPropertyOptional() @IsOptional() @IsBoolean() isActive?: boolean;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @IsRole(true)
  roles?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

export class UpsertUserDto {
  @IsUserEmail() email!: string;

  @ApiPropertyOptional({ type: UpsertDefaultsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => UpsertDefaultsDto)
  defaults?: UpsertDefaultsDto;
}
