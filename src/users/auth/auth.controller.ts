import { Body, Controller, Get, HttpCode, HttpStatus, Post, Put, Req, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Audited, AuditedByHandler } from '../../audit/audit.decorators';
import type { AuditedRequest } from '../../audit/audited-request';
import { RequestAuditor } from '../../audit/request-auditor.service';
import type { HttpRequest } from '../../common/http-exchange';
import { NoThrottle, SensitiveRoute } from '../../throttling/throttling.decorators';
import { toUserResponse, UserResponseDto } from '../dto/user-response.dto';
import { AuthService, LOGIN_AUDIT_ACTION } from './auth.service';
import { CurrentUser, type AuthenticatedUser } from './authenticated-user';
import { AccessTokenDto } from './dto/access-token.dto';
import { ChangePasswordDto } from './dto/change-password.dto';
import { LoginDto } from './dto/login.dto';
import { LoginAttemptGuard } from './login-attempt.guard';
import { Public } from './public.decorator';
import { Roles } from './roles.decorator';
import { UsersRoutes } from '../controllers/users-routes.decorator';
import { ApiErrorResponses, ErrorResponseDto } from '../../errors/api-error-responses';

@ApiTags('auth')
@ApiErrorResponses(503)
@UsersRoutes()
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly auditor: RequestAuditor,
  ) {}

  // Not under the shared throttler: login has its own limiter (per address for every attempt,
  // counted by LoginAttemptGuard before validation; per account for failures only), which the
  // throttler's per-route counting cannot express.
  @Post('login')
  @AuditedByHandler(LOGIN_AUDIT_ACTION)
  @Public()
  @NoThrottle()
  @UseGuards(LoginAttemptGuard)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ operationId: 'login', summary: 'Exchange email and password for a bearer token', security: [] })
  @ApiErrorResponses(400)
  @ApiOkResponse({ type: AccessTokenDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Unknown email, wrong password, or an account that cannot log in (one body for all)' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many attempts from this address or failures for this account; see Retry-After' })
  login(@Body() body: LoginDto, @Req() request: HttpRequest): Promise<AccessTokenDto> {
    // request.ip honours TRUST_PROXY only: a client cannot pick its address with X-Forwarded-For.
    // It is missing only once the client has gone, whose attempts then share one budget.
    return this.auth.login(body.email, body.password, request.ip ?? '');
  }

  @Get('me')
  @Roles()
  @NoThrottle()
  @ApiBearerAuth()
  @ApiOperation({ operationId: 'getCurrentUser', summary: 'The authenticated caller' })
  @ApiOkResponse({ type: UserResponseDto, description: 'The caller as a user (never with a password hash)' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, invalid, expired or retired token' })
  async getCurrentUser(@CurrentUser() caller: AuthenticatedUser): Promise<UserResponseDto> {
    return toUserResponse(await this.auth.currentUser(caller.id));
  }

  // Ends all of the caller's tokens, not just the one presented: tokens are stateless, so one of
  // them alone cannot be revoked without a deny-list; this is also "sign out everywhere".
  // Not throttled: it needs a valid token, costs one UPDATE, and only ever harms the caller.
  @Post('logout')
  @Audited('auth.logout')
  @Roles()
  @NoThrottle()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiOperation({ operationId: 'logout', summary: "End every token of the caller (all sessions, on every device)" })
  @ApiNoContentResponse({ description: 'Every token issued to the caller so far stops working; log in again for a new one' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, invalid, expired or retired token' })
  logout(@CurrentUser() caller: AuthenticatedUser): Promise<void> {
    return this.auth.logout(caller.id);
  }

  @Put('password')
  @AuditedByHandler('auth.password-change')
  @Roles()
  @SensitiveRoute('password-change')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiOperation({ operationId: 'changeOwnPassword', summary: "Change the caller's password; every token issued so far stops working" })
  @ApiErrorResponses(400)
  @ApiNoContentResponse({ description: 'Changed; log in again with the new password' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, invalid, expired or retired token' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many password changes for this account; see Retry-After' })
  changeOwnPassword(@CurrentUser() caller: AuthenticatedUser, @Body() body: ChangePasswordDto, @Req() request: AuditedRequest): Promise<void> {
    return this.auth.changeOwnPassword(caller.id, body.currentPassword, body.newPassword, this.auditor.committer(request));
  }
}
