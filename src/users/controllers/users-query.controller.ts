import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/roles.decorator';
import { NoThrottle } from '../../throttling/throttling.decorators';
import { toKeysetPage, toUserPage, UserKeysetPageDto, UserPageDto } from '../dto/user-response.dto';
import {
  ByFieldQueryDto,
  CountQueryDto,
  DormantCountQueryDto,
  DormantQueryDto,
  EmailAvailabilityQueryDto,
  KeysetQueryDto,
  ListUsersQueryDto,
  SearchQueryDto,
  SignupsQueryDto,
} from '../dto/user-queries.dto';
import { UsersRepository } from '../users.repository';
import { UsersRoutes } from './users-routes.decorator';
import { ApiErrorResponses } from '../../errors/api-error-responses';

// Read-only collection routes: lists, filters, search, counts and statistics.
@ApiTags('users')
@ApiBearerAuth()
@ApiErrorResponses(400, 401, 403, 503)
@Roles('admin')
@NoThrottle()
@UsersRoutes()
@Controller('users')
export class UsersQueryController {
  constructor(private readonly users: UsersRepository) {}

  @Get()
  @ApiOperation({ operationId: 'listUsers', summary: 'List users, newest first, with optional filters' })
  @ApiOkResponse({ type: UserPageDto })
  async listUsers(@Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    const { offset, limit, withDeleted, ...filter } = query;
    return toUserPage(await this.users.findUsers(filter, { offset, limit, withDeleted }));
  }

  @Get('keyset')
  @ApiOperation({ operationId: 'listUsersKeyset', summary: 'Keyset pagination: constant time at any depth' })
  @ApiOkResponse({ type: UserKeysetPageDto })
  async listUsersKeyset(@Query() query: KeysetQueryDto): Promise<UserKeysetPageDto> {
    return toKeysetPage(await this.users.listUsersAfter(query.after, query.limit, { withDeleted: query.withDeleted }));
  }

  @Get('dormant')
  @ApiOperation({
    operationId: 'listDormantUsers',
    summary: 'Live users without a login for inactiveForDays, longest unseen first (keyset pages)',
    description: 'A user who never logged in counts from its creation.',
  })
  @ApiOkResponse({ type: UserKeysetPageDto })
  async listDormantUsers(@Query() query: DormantQueryDto): Promise<UserKeysetPageDto> {
    return toKeysetPage(await this.users.listDormantUsers({ inactiveForDays: query.inactiveForDays, after: query.after, limit: query.limit }));
  }

  @Get('dormant/count')
  @ApiOperation({ operationId: 'countDormantUsers', summary: 'How many live users have not logged in for inactiveForDays' })
  async countDormantUsers(@Query() query: DormantCountQueryDto): Promise<{ count: number }> {
    return { count: await this.users.countDormantUsers({ inactiveForDays: query.inactiveForDays }) };
  }

  @Get('search')
  @ApiOperation({
    operationId: 'searchUsers',
    summary: 'Search users by email or name, newest first',
    description: 'A term of 3+ characters matches any substring, a shorter one the start of the email or of a word of the name. total is exact up to 1,000.',
  })
  @ApiOkResponse({ type: UserPageDto })
  async searchUsers(@Query() query: SearchQueryDto): Promise<UserPageDto> {
    return toUserPage(await this.users.searchUsersByNameOrEmail(query.q, query.offset, query.limit));
  }

  @Get('count')
  @ApiOperation({ operationId: 'countUsers', summary: 'Count users, optionally by status' })
  async countUsers(@Query() query: CountQueryDto): Promise<{ count: number }> {
    return { count: await this.users.countUsers(query.isActive) };
  }

  @Get('by-field')
  @ApiOperation({ operationId: 'listUsersByCustomField', summary: 'Users whose metadata field equals a value' })
  @ApiOkResponse({ type: UserPageDto })
  async listUsersByCustomField(@Query() query: ByFieldQueryDto): Promise<UserPageDto> {
    const page = await this.users.getUsersByCustomField(query.field, parseFieldValue(query.value), query);
    return toUserPage(page);
  }

  @Get('stats/signups')
  @ApiOperation({ operationId: 'getSignupsPerMonth', summary: 'Signups per UTC month of a year' })
  getSignupsPerMonth(@Query() query: SignupsQueryDto): Promise<Record<number, number>> {
    return this.users.userSignupsPerMonth(query.year);
  }

  @Get('email-availability')
  @ApiOperation({ operationId: 'getEmailAvailability', summary: 'Whether an email is free (case-insensitive)' })
  async getEmailAvailability(@Query() query: EmailAvailabilityQueryDto): Promise<{ available: boolean }> {
    return { available: await this.users.isEmailUnique(query.email, query.excludeUserId) };
  }
}

// `value` is a JSON literal when it parses as one (42, true, null, "quoted"), else plain text.
function parseFieldValue(raw: string): unknown {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? raw : parsed;
  } catch {
    return raw;
  }
}
