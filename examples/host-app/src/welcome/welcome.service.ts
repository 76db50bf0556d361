import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { UsersEvents, UsersRepository, type UserEvent } from 'nest-users';

// What a welcome mail would carry; a real host would hand it to its mailer.
export interface WelcomeMail {
  eventId: string;
  userId: string;
  to: string;
}

// A sibling module reacting to the users module's events: a welcome mail for every new user.
// The handler runs after the user's creation committed, at least once per event: the event id is
// the idempotency key, so a redelivery after a crash sends no second mail. A throw (the mailer
// is down) is retried by the module with backoff, then dead-lettered.
@Injectable()
export class WelcomeService implements OnModuleInit {
  private readonly logger = new Logger(WelcomeService.name);
  private readonly sent = new Map<string, WelcomeMail>();

  constructor(
    private readonly events: UsersEvents,
    private readonly users: UsersRepository,
  ) {}

  // Subscribed in onModuleInit: before the module's relay starts, so that events committed while
  // the app was down reach this subscriber too.
  onModuleInit(): void {
    this.events.on('user.created', (event) => this.welcome(event), { name: 'host-welcome-mail' });
  }

  mails(): WelcomeMail[] {
    return [...this.sent.values()];
  }

  private async welcome(event: UserEvent<'user.created'>): Promise<void> {
    if (this.sent.has(event.id)) return;
    // Events carry ids, never personal data: the address is read when it is needed.
    const user = await this.users.getUserById(event.userId);
    if (!user) return; // deleted since
    this.sent.set(event.id, { eventId: event.id, userId: user.id, to: user.email });
    this.logger.log(`welcome mail queued for user ${user.id}`);
  }
}
