import { Body, Controller, Get, HttpCode, Patch, Post, Query, Req, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Audited, AuditedByHandler } from '../../audit/audit.decorators';
import type { AuditedRequest } from '../../audit/audited-request';
import { RequestAuditor } from '../../audit/request-auditor.service';
import { BodyLimit } from '../../common/body-limits';
import { Roles } from '../auth/roles.decorator';
import { NoThrottle, SensitiveRoute } from '../../throttling/throttling.decorators';
import { BulkCreateDto, BulkIdsDto, BulkUpdateDto, ImportBodyDto } from '../dto/bulk.dto';
import { ExportQueryDto, ImportQueryDto } from '../dto/user-queries.dto';
import { toUserResponse, UserResponseDto } from '../dto/user-response.dto';
import type { NewUser } from '../user.model';
import { UsersRepository } from '../users.repository';
import { UsersService, type Actor } from '../users.service';
import { BulkCreateBodyPipe } from './bulk-create-body.pipe';
import { ImportBodyPipe } from './import-body.pipe';
import { CurrentUser } from '../auth/authenticated-user';
import { UsersRoutes } from './users-routes.decorator';
import { ApiErrorResponses } from '../../errors/api-error-responses';

export class ImportReportDto {
  @ApiProperty({ description: 'True when nothing was written: the users are what the import would create or update' }) dryRun!: boolean;
  @ApiProperty() count!: number;
  @ApiProperty({ type: [UserResponseDto] }) users!: UserResponseDto[];
}

// Many users at once: bulk create/update/delete, import and export.
@ApiTags('users')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 503)
@Roles('admin')
@UsersRoutes()
@Controller('users')
export class UsersBulkController {
  constructor(
    private readonly users: UsersRepository,
    private readonly service: UsersService,
    private readonly auditor: RequestAuditor,
  ) {}

  @Post('bulk')
  @NoThrottle()
  @AuditedByHandler('users.bulk-create')
  @BodyLimit('bulk')
  @ApiOperation({ operationId: 'bulkCreateUsers', summary: 'Create many users, all or nothing' })
  @ApiErrorResponses(400, 409)
  @ApiBody({ type: BulkCreateDto })
  @ApiCreatedResponse({ type: [UserResponseDto] })
  async bulkCreateUsers(@Body(BulkCreateBodyPipe) users: NewUser[], @Req() request: AuditedRequest): Promise<UserResponseDto[]> {
    // Up to 100 passwords take seconds to hash: no transaction is held meanwhile. The users and
    // their audit row then commit together in the insert's transaction.
    return (await this.service.bulkCreate(users, this.auditor.successHook(request))).map(toUserResponse);
  }

  @Patch('bulk')
  @NoThrottle()
  @Audited('users.bulk-update')
  @BodyLimit('bulk')
  @ApiOperation({ operationId: 'bulkUpdateUsers', summary: 'Apply one change to many users' })
  @ApiErrorResponses(400)
  @ApiOkResponse({ type: [UserResponseDto] })
  async bulkUpdateUsers(@CurrentUser() actor: Actor, @Body() body: BulkUpdateDto): Promise<UserResponseDto[]> {
    return (await this.service.bulkUpdate(actor, body.ids, body.data)).map(toUserResponse);
  }

  @Post('bulk-delete')
  @HttpCode(204)
  @SensitiveRoute('bulk-delete')
  @Audited('users.bulk-delete')
  @BodyLimit('bulk')
  @ApiOperation({ operationId: 'bulkDeleteUsers', summary: 'Hard-delete many users (files go, audit stays)' })
  @ApiErrorResponses(400, 429)
  @ApiNoContentResponse()
  async bulkDeleteUsers(@CurrentUser() actor: Actor, @Body() body: BulkIdsDto): Promise<void> {
    await this.service.bulkDelete(actor, body.ids);
  }

  @Get('export')
  @SensitiveRoute('export')
  @AuditedByHandler('users.export')
  @ApiOperation({ operationId: 'exportUsers', summary: 'Stream every user as CSV or JSON (no password hashes)' })
  @ApiErrorResponses(400, 429)
  @ApiProduces('text/csv', 'application/json')
  @ApiOkResponse({ description: 'Every user, streamed as CSV or as JSON (format=json)' })
  async exportUsers(@Query() query: ExportQueryDto, @Req() request: AuditedRequest): Promise<StreamableFile> {
    const format = query.format ?? 'csv';
    // The audit row commits on the export's connection before the COPY starts (no transaction
    // is held around a stream): an export that cannot be audited is refused.
    const audit = this.auditor.successStatement(request);
    const stream = await this.service.exportUsers(format, query.withDeleted === true, audit);
    this.auditor.logWritten(audit);
    return new StreamableFile(stream, {
      type: format === 'json' ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8',
      disposition: `attachment; filename="users.${format}"`,
    });
  }

  @Post('import')
  @SensitiveRoute('import')
  @AuditedByHandler('users.import')
  @BodyLimit('bulk')
  @ApiOperation({ operationId: 'importUsers', summary: 'Import users from JSON {users:[...]} or text/csv, all or nothing' })
  @ApiErrorResponses(400, 409, 429)
  @ApiConsumes('application/json', 'text/csv')
  @ApiBody({ type: ImportBodyDto })
  @ApiCreatedResponse({ type: ImportReportDto })
  async importUsers(
    @CurrentUser() actor: Actor,
    @Body(ImportBodyPipe) rows: Record<string, unknown>[],
    @Query() query: ImportQueryDto,
    @Req() request: AuditedRequest,
  ): Promise<ImportReportDto> {
    const dryRun = query.dryRun === true;
    // Plaintext passwords are hashed before the transaction that locks the admins' rows opens.
    const users = await this.service.importUsers(actor, rows, { dryRun, onConflict: query.onConflict ?? 'error' }, this.auditor.committer(request));
    return { dryRun, count: users.length, users: users.map(toUserResponse) };
  }
}
