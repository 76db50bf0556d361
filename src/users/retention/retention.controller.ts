import { Controller, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditedByHandler } from '../../audit/audit.decorators';
import type { AuditedRequest } from '../../audit/audited-request';
import { RequestAuditor } from '../../audit/request-auditor.service';
import { ValidationFailedError } from '../../errors/domain-error';
import { NoThrottle } from '../../throttling/throttling.decorators';
import { Roles } from '../auth/roles.decorator';
import { UsersRoutes } from '../controllers/users-routes.decorator';
import { RetentionPolicy } from './retention-policy.service';
import { RetentionPolicyDto, RetentionReportDto, RetentionRunQueryDto, toRetentionPolicy, toRetentionReport } from './retention.dto';
import { ApiErrorResponses } from '../../errors/api-error-responses';

// The retention policy: what it is, and a run now (or its dry run). Mounted before the routes
// about one user, so that /users/retention/... never reads as /users/:id.
@ApiTags('users')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 503)
@Roles('admin')
@UsersRoutes()
@Controller('users')
export class RetentionController {
  constructor(
    private readonly retention: RetentionPolicy,
    private readonly auditor: RequestAuditor,
  ) {}

  @Get('retention/policy')
  @NoThrottle()
  @ApiOperation({ operationId: 'getRetentionPolicy', summary: 'The effective retention policy for dormant users' })
  @ApiOkResponse({ type: RetentionPolicyDto })
  getRetentionPolicy(): RetentionPolicyDto {
    return toRetentionPolicy(this.retention.policy, this.retention.enabled);
  }

  // Not rate-limited: runs take turns on an advisory lock, and one right after another finds
  // nothing to do.
  @Post('retention/run')
  @HttpCode(200)
  @NoThrottle()
  // Audited by the handler: the run makes one transaction per batch of its own (a request-wide one
  // would hold every picked row locked until the answer, and roll all of it back on a late
  // failure); the request's audit row follows the run.
  @AuditedByHandler('users.retention-run')
  @ApiOperation({ operationId: 'runRetention', summary: 'Run the retention policy now; dryRun=true only reports what it would do' })
  @ApiErrorResponses(400)
  @ApiOkResponse({ type: RetentionReportDto })
  async runRetention(@Query() query: RetentionRunQueryDto, @Req() request: AuditedRequest): Promise<RetentionReportDto> {
    // Required: a run can anonymize, which cannot be undone.
    if (query.dryRun === undefined) throw ValidationFailedError.field('dryRun', 'must be true or false');
    const report = toRetentionReport(await this.retention.run({ dryRun: query.dryRun }));
    // Wrapped: the audit row names no user from the report (each step audited its own).
    await this.auditor.commitWith(request, async () => ({ run: report.dryRun ? 'dry' : 'done' }));
    return report;
  }
}
