import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { UsersSettings } from '../users.options';
import { UnauthenticatedError } from '../../errors/domain-error';

// The claims of an access token: `ver` is the user's version when the token was issued, so any
// change that bumps it (password, deactivation, deletion, roles, anonymization) retires the token.
// `tep` is the user row's token epoch: random per row and rotated on credential changes and
// logout, so a token never outlives its row (a version restarts at 1 when an id is re-imported).
export interface AccessTokenClaims {
  sub: string;
  ver: number;
  tep: string;
  roles: string[];
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

@Injectable()
export class AccessTokens {
  constructor(
    private readonly jwt: JwtService,
    private readonly settings: UsersSettings,
  ) {}

  async issue(claims: AccessTokenClaims): Promise<IssuedToken> {
    const accessToken = await this.jwt.signAsync({ ...claims });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.settings.jwt?.expiresInSeconds ?? 0 };
  }

  // Any problem with the token (signature, expiry, algorithm, shape) is the same 401.
  async verify(token: string): Promise<AccessTokenClaims> {
    let payload: Record<string, unknown>;
    try {
      payload = await this.jwt.verifyAsync<Record<string, unknown>>(token);
    } catch {
      throw new UnauthenticatedError('Invalid or expired token');
    }
    const { sub, ver, tep, roles } = payload;
    if (typeof sub !== 'string' || !Number.isInteger(ver) || typeof tep !== 'string' || !Array.isArray(roles)) {
      throw new UnauthenticatedError('Invalid or expired token');
    }
    return { sub, ver: ver as number, tep, roles: roles.filter((r): r is string => typeof r === 'string') };
  }
}
