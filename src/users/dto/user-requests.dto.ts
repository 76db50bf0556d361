import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsOptional, IsString, ValidateNested } from 'class-validator';
import { IsPassword, IsRole, IsUserEmail } from './user-validators';
import { UserProfileDto, UserProfileWithRolesDto } from './user-profile.dto';

export class CreateUserDto extends PickType(UserProfileDto, ['fullName'] as const) {
  @IsUserEmail() email!: string;
  @IsPassword() password!: string;
}

// PATCH /users/:id: only these fields are writable; anything else is a 400 naming the field.
export class UpdateUserDto extends UserProfileDto {
  @ApiPropertyOptional({ example: 'ada@example.com' })
  @IsOptional()
  @IsUserEmail()
  email?: string;
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

export class UpsertDefaultsDto extends UserProfileWithRolesDto {}

export class UpsertUserDto {
  @IsUserEmail() email!: string;

  @ApiPropertyOptional({ type: UpsertDefaultsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => UpsertDefaultsDto)
  defaults?: UpsertDefaultsDto;
}
