import { Controller, Get, Param, UseFilters, UseGuards } from '@nestjs/common';
import { ErrorsFilter, Roles, RolesGuard, toUserResponse, UsersAuthGuard, type UserResponseDto } from 'nest-users';
import { TEAM_LEAD, TeamService } from './team.service';

// A route of the host protected by the module's authentication and role check: a bearer token of
// the module's /auth/login, held by an admin or a team lead. The guards throw the module's errors
// (UNAUTHENTICATED, FORBIDDEN): its ErrorsFilter answers them 401 and 403, where Nest's default
// handler would answer 500.
@Controller('teams')
@UseFilters(ErrorsFilter)
@UseGuards(UsersAuthGuard, RolesGuard)
export class TeamsController {
  constructor(private readonly teams: TeamService) {}

  @Get(':role/members')
  @Roles('admin', TEAM_LEAD)
  async members(@Param('role') role: string): Promise<UserResponseDto[]> {
    return (await this.teams.membersWithRole(role)).items.map(toUserResponse);
  }
}
