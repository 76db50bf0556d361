import { Body, Controller, Delete, Get, Head, Headers, HttpCode, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuditEntry } from '../../audit/audit-log.service';
import { Audited, AuditedByHandler } from '../../audit/audit.decorators';
import type { AuditedRequest } from '../../audit/audited-request';
import { RequestAuditor } from '../../audit/request-auditor.service';
import { BodyLimit } from '../../common/body-limits';
import type { HttpReply } from '../../common/http-exchange';
import { Roles } from '../auth/roles.decorator';
import { ValidationFailedError } from '../../errors/domain-error';
import { NoThrottle, SensitiveRoute } from '../../throttling/throttling.decorators';
import { PageQueryDto } from '../dto/user-queries.dto';
import { GetUserQueryDto } from '../dto/user-queries.dto';
import { CreateUserDto, RoleDto, SetPasswordDto, UpdateUserDto, UpsertUserDto } from '../dto/user-requests.dto';
import { toUserResponse, toUserWithFilesResponse, UserResponseDto, UserWithFilesResponseDto } from '../dto/user-response.dto';
import type { Page } from '../user.model';
import { UserNotFoundError } from '../users.errors';
import { UsersRepository } from '../users.repository';
import { UsersService, type Actor } from '../users.service';
import { CurrentUser } from '../auth/authenticated-user';
import { UserIdPipe } from './user-id.pipe';
import { UsersRoutes } from './users-routes.decorator';
import { ApiErrorResponses } from '../../errors/api-error-responses';

// Routes about one user, addressed by id, plus create and upsert. The rule from route to code:
// reads call UsersRepository, every change calls UsersService (where the admin policy lives).
@ApiTags('users')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 503)
@Roles('admin')
@UsersRoutes()
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersRepository,
    private readonly service: UsersService,
    private readonly auditor: RequestAuditor,
  ) {}

  @Post()
  @NoThrottle()
  @AuditedByHandler('user.create')
  @ApiOperation({ operationId: 'createUser', summary: 'Create a user (argon2id-hashed password)' })
  @ApiErrorResponses(400, 409)
  @ApiCreatedResponse({ type: UserResponseDto })
  async createUser(@Body() body: CreateUserDto, @Req() request: AuditedRequest): Promise<UserResponseDto> {
    return toUserResponse(await this.service.createUser(body.email, body.password, body.fullName, this.auditor.committer(request)));
  }

  @Put('upsert')
  @NoThrottle()
  @Audited('user.upsert')
  @BodyLimit('profile')
  @ApiOperation({ operationId: 'upsertUser', summary: 'Create the user with this email, or apply the defaults to it' })
  @ApiErrorResponses(400, 409)
  @ApiOkResponse({ type: UserResponseDto, description: 'Updated (201 when created)' })
  async upsertUser(@CurrentUser() actor: Actor, @Body() body: UpsertUserDto, @Res({ passthrough: true }) reply: HttpReply): Promise<UserResponseDto> {
    const { user, created } = await this.service.upsertUser(actor, body.email, body.defaults);
    reply.status(created ? 201 : 200);
    return toUserResponse(user);
  }

  // Declared before the GET of the same path: Fastify would otherwise derive its own HEAD route.
  @Head(':id')
  @NoThrottle()
  @ApiOperation({ operationId: 'headUser', summary: 'Whether the user exists (200 or 404)' })
  @ApiOkResponse({ description: 'The user exists' })
  @ApiErrorResponses(404)
  async headUser(@Param('id', UserIdPipe) id: string): Promise<void> {
    if (!(await this.users.userExists(id))) throw new UserNotFoundError(id);
  }

  @Get(':id')
  @NoThrottle()
  @ApiOperation({ operationId: 'getUser', summary: 'One user; include=files adds the user files' })
  @ApiErrorResponses(400, 404)
  @ApiOkResponse({ type: UserWithFilesResponseDto })
  async getUser(@Param('id', UserIdPipe) id: string, @Query() query: GetUserQueryDto, @Res({ passthrough: true }) reply: HttpReply): Promise<UserWithFilesResponseDto> {
    if (query.include === 'files') {
      const user = await this.users.getUserWithFiles(id);
      if (!user) throw new UserNotFoundError(id);
      reply.header('ETag', `"${user.version}"`);
      return toUserWithFilesResponse(user);
    }
    const user = await this.users.safeGetUserById(id);
    reply.header('ETag', `"${user.version}"`);
    return toUserResponse(user);
  }

  @Patch(':id')
  @NoThrottle()
  @Audited('user.update')
  @ApiHeader({ name: 'If-Match', required: false, description: 'The version you read; 412 if the user changed since' })
  @BodyLimit('profile')
  @ApiOperation({ operationId: 'updateUser', summary: 'Change email, fullName, isActive or metadata' })
  @ApiErrorResponses(400, 404, 409, 412)
  @ApiOkResponse({ type: UserResponseDto })
  async updateUser(
    @CurrentUser() actor: Actor,
    @Param('id', UserIdPipe) id: string,
    @Body() body: UpdateUserDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: HttpReply,
  ): Promise<UserResponseDto> {
    const user = await this.service.updateUser(actor, id, body, parseIfMatch(ifMatch));
    reply.header('ETag', `"${user.version}"`);
    return toUserResponse(user);
  }

  @Delete(':id')
  @NoThrottle()
  @Audited('user.soft-delete')
  @ApiOperation({ operationId: 'softDeleteUser', summary: 'Soft-delete a user (restorable)' })
  @ApiErrorResponses(404)
  @ApiOkResponse({ type: UserResponseDto })
  async softDeleteUser(@CurrentUser() actor: Actor, @Param('id', UserIdPipe) id: string): Promise<UserResponseDto> {
    return toUserResponse(await this.service.softDeleteUser(actor, id));
  }

  @Post(':id/restore')
  @HttpCode(200)
  @NoThrottle()
  @Audited('user.restore')
  @ApiOperation({ operationId: 'restoreUser', summary: 'Restore a soft-deleted user' })
  @ApiErrorResponses(404, 409)
  @ApiOkResponse({ type: UserResponseDto })
  async restoreUser(@Param('id', UserIdPipe) id: string): Promise<UserResponseDto> {
    return toUserResponse(await this.service.restoreUser(id));
  }

  @Post(':id/deactivate')
  @HttpCode(200)
  @NoThrottle()
  @Audited('user.deactivate')
  @ApiOperation({ operationId: 'deactivateUser', summary: 'Deactivate a user (their tokens stop working)' })
  @ApiErrorResponses(404)
  @ApiOkResponse({ type: UserResponseDto })
  async deactivateUser(@CurrentUser() actor: Actor, @Param('id', UserIdPipe) id: string): Promise<UserResponseDto> {
    return toUserResponse(await this.service.deactivateUser(actor, id));
  }

  @Post(':id/reactivate')
  @HttpCode(200)
  @NoThrottle()
  @Audited('user.reactivate')
  @ApiOperation({ operationId: 'reactivateUser', summary: 'Reactivate a user' })
  @ApiErrorResponses(404)
  @ApiOkResponse({ type: UserResponseDto })
  async reactivateUser(@Param('id', UserIdPipe) id: string): Promise<UserResponseDto> {
    return toUserResponse(await this.service.reactivateUser(id));
  }

  @Put(':id/password')
  @HttpCode(204)
  @SensitiveRoute('password-change')
  @AuditedByHandler('user.password-change')
  @ApiOperation({ operationId: 'setUserPassword', summary: "Set a user's password (rate-limited per user)" })
  @ApiErrorResponses(400, 404, 429)
  @ApiNoContentResponse()
  async setUserPassword(@Param('id', UserIdPipe) id: string, @Body() body: SetPasswordDto, @Req() request: AuditedRequest): Promise<void> {
    await this.service.setPassword(id, body.password, this.auditor.committer(request));
  }

  @Post(':id/roles')
  @HttpCode(200)
  @NoThrottle()
  @Audited('user.role-assign')
  @ApiOperation({ operationId: 'assignUserRole', summary: 'Give a user a role (no-op if held)' })
  @ApiErrorResponses(400, 404)
  @ApiOkResponse({ type: UserResponseDto })
  async assignUserRole(@Param('id', UserIdPipe) id: string, @Body() body: RoleDto): Promise<UserResponseDto> {
    return toUserResponse(await this.service.assignRole(id, body.role));
  }

  @Delete(':id/roles/:role')
  @NoThrottle()
  @Audited('user.role-revoke')
  @ApiOperation({ operationId: 'revokeUserRole', summary: 'Take a role from a user' })
  @ApiErrorResponses(400, 404)
  @ApiOkResponse({ type: UserResponseDto })
  async revokeUserRole(@CurrentUser() actor: Actor, @Param('id', UserIdPipe) id: string, @Param('role') role: string): Promise<UserResponseDto> {
    return toUserResponse(await this.service.revokeRole(actor, id, role));
  }

  @Post(':id/anonymize')
  @HttpCode(204)
  @SensitiveRoute('anonymize')
  @Audited('user.anonymize')
  @ApiOperation({ operationId: 'anonymizeUser', summary: 'GDPR erasure: irreversible anonymization' })
  @ApiErrorResponses(404, 429)
  @ApiNoContentResponse()
  async anonymizeUser(@CurrentUser() actor: Actor, @Param('id', UserIdPipe) id: string): Promise<void> {
    await this.service.anonymizeUser(actor, id);
  }

  @Get(':id/audit-log')
  @NoThrottle()
  @ApiOperation({ operationId: 'getUserAuditLog', summary: 'Audit rows about a user, newest first' })
  @ApiOkResponse({ description: 'A page of audit rows: items, total, offset, limit' })
  @ApiErrorResponses(400, 404)
  getUserAuditLog(@Param('id', UserIdPipe) id: string, @Query() query: PageQueryDto): Promise<Page<AuditEntry>> {
    return this.users.getAuditLog(id, query);
  }
}

// One version (the ETag of GET /users/:id), or `*`: any current version of a user that exists
// (RFC 9110), which is the same as sending no If-Match. A list of versions is not supported.
function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!match) throw new ValidationFailedError([{ field: 'If-Match', reason: 'must be one version number, e.g. "3", or *' }]);
  return Number(match[1]);
}
