import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { MAX_EMAIL_LENGTH } from '../../email';
import { PASSWORD_MAX_LENGTH } from '../../password';

export class LoginDto {
  @ApiProperty({ example: 'admin@example.com', maxLength: MAX_EMAIL_LENGTH })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_EMAIL_LENGTH)
  email!: string;

  // Only capped, not checked against the password policy: a login reveals nothing about rules,
  // and the cap keeps an oversized body from costing an argon2 run.
  @ApiProperty({ format: 'password', maxLength: PASSWORD_MAX_LENGTH })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;
}
