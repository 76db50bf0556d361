import { ApiProperty } from '@nestjs/swagger';
import type { IssuedToken } from '../access-tokens.service';

export class AccessTokenDto implements IssuedToken {
  @ApiProperty({ description: 'JWT (HS256) to send as `Authorization: Bearer <token>`' })
  accessToken!: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiProperty({ description: 'Lifetime of the token in seconds', example: 3600 })
  expiresIn!: number;
}
