import { Module } from '@nestjs/common';
import { WelcomeService } from './welcome.service';

// UsersEvents and UsersRepository come from UsersModule, registered with isGlobal by the root module.
@Module({ providers: [WelcomeService], exports: [WelcomeService] })
export class WelcomeModule {}
