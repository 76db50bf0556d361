import { Module } from '@nestjs/common';
import { TeamService } from './team.service';
import { TeamsController } from './teams.controller';

// UsersRepository comes from UsersModule, registered with isGlobal by the root module.
@Module({ controllers: [TeamsController], providers: [TeamService], exports: [TeamService] })
export class TeamsModule {}
