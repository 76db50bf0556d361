import { Injectable } from '@nestjs/common';
import { UsersRepository, type Page, type User } from 'nest-users';

export const TEAM_LEAD = 'team-lead';

// A feature of the host built on the module's repository: team members are users of the module,
// team leads are users holding the `team-lead` role.
@Injectable()
export class TeamService {
  constructor(private readonly users: UsersRepository) {}

  addMember(email: string, password: string, fullName: string): Promise<User> {
    return this.users.createUserWithValidation(email, password, { fullName });
  }

  makeLead(userId: string): Promise<User> {
    return this.users.assignRoleToUser(userId, TEAM_LEAD);
  }

  membersWithRole(role: string): Promise<Page<User>> {
    return this.users.filterUsersByRole(role, { limit: 100 });
  }

  find(query: string): Promise<Page<User>> {
    return this.users.searchUsersByNameOrEmail(query, 0, 20);
  }
}
