import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UsersModule } from 'nest-users';
import { HostConfig, HostConfigModule } from './host-config';
import { TeamsModule } from './teams/teams.module';
import { WelcomeModule } from './welcome/welcome.module';

// The host: its own TypeORM connection, UsersModule on that connection with its tables under
// `app_` (this database already has a `users` table of its own), and a feature module of its own
// that uses UsersRepository. No global guard, filter or pipe: the module's routes carry theirs.
@Module({})
export class AppModule {
  static forRoot(config: HostConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        HostConfigModule.forRoot(config),
        TypeOrmModule.forRootAsync({
          inject: [HostConfig],
          useFactory: (c: HostConfig) => ({ type: 'postgres', url: c.databaseUrl, entities: [], synchronize: false, retryAttempts: 0 }),
        }),
        UsersModule.forRootAsync({
          dataSource: 'default',
          // UsersRepository for TeamsModule (and any other module of the host).
          isGlobal: true,
          inject: [HostConfig],
          useFactory: (c: HostConfig) => ({
            tablePrefix: 'app_',
            // On the host's data source migrations are opt-in; a host could instead add
            // usersMigrations({ tablePrefix: 'app_' }) to its own DataSource's migrations.
            migrationsRun: true,
            jwt: { secret: c.jwtSecret },
            bootstrapAdmin: c.admin,
          }),
        }),
        TeamsModule,
        WelcomeModule,
      ],
    };
  }
}
