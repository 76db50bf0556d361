import { Module, type DynamicModule } from '@nestjs/common';
import { UsersModule } from 'nest-users';
import { HostConfig } from './host-config';
import { TeamsModule } from './teams/teams.module';

// The other way to embed it: no TypeORM in the host at all, the module opens and closes a pool
// of its own, and mounts no route (repository only). Its tables go under `own_`.
@Module({})
export class OwnedPoolAppModule {
  static forRoot(config: HostConfig): DynamicModule {
    return {
      module: OwnedPoolAppModule,
      imports: [
        UsersModule.forRoot({
          database: { url: config.databaseUrl, poolMax: 2 },
          routes: false,
          isGlobal: true,
          tablePrefix: 'own_',
          jwt: { secret: config.jwtSecret },
        }),
        TeamsModule,
      ],
    };
  }
}
