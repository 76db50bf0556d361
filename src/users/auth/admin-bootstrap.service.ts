import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { User } from '../user.model';
import { UserAlreadyExistsError } from '../users.errors';
import { UsersRepository } from '../users.repository';
import { UsersSettings } from '../users.options';


export type AdminOutcome = 'created' | 'promoted' | 'unchanged';

// Makes sure the configured administrator exists, at startup (ADMIN_EMAIL and ADMIN_PASSWORD) and
// from `npm run admin:create`. Idempotent: an existing account only gains the admin role; its
// password is never reset, so the variables can stay set across restarts.
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly settings: UsersSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.settings.bootstrapAdmin;
    if (!admin) return;
    const { user, outcome } = await this.ensureAdmin(admin.email, admin.password);
    this.logger.log(`admin ${user.id}: ${outcome}`);
  }

  async ensureAdmin(email: string, password: string): Promise<{ user: User; outcome: AdminOutcome }> {
    const existing = await this.promote(email);
    if (existing) return existing;
    try {
      const user = await this.users.dbTransaction(async () => {
        const created = await this.users.createUserWithValidation(email, password);
        return this.users.assignRoleToUser(created.id, this.settings.adminRole);
      });
      return { user, outcome: 'created' };
    } catch (error) {
      // Another instance created it at the same moment: promote that one instead.
      const raced = error instanceof UserAlreadyExistsError ? await this.promote(email) : undefined;
      if (raced) return raced;
      throw error;
    }
  }

  private async promote(email: string): Promise<{ user: User; outcome: AdminOutcome } | undefined> {
    const credentials = await this.users.getCredentialsByEmail(email);
    if (!credentials) return undefined;
    const user = await this.users.assignRoleToUser(credentials.id, this.settings.adminRole);
    return { user, outcome: credentials.roles.includes(this.settings.adminRole) ? 'unchanged' : 'promoted' };
  }
}
