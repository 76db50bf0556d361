import { Module, type DynamicModule } from '@nestjs/common';

// The host's own settings, as any app has them (here from the environment; @nestjs/config's
// ConfigService would do the same job). UsersModule.forRootAsync injects them.
export class HostConfig {
  constructor(
    readonly databaseUrl: string,
    readonly jwtSecret: string,
    readonly admin?: { email: string; password: string },
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): HostConfig {
    const required = (name: string): string => {
      const value = env[name];
      if (!value) throw new Error(`${name} must be set`);
      return value;
    };
    const admin = env.ADMIN_EMAIL && env.ADMIN_PASSWORD ? { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } : undefined;
    return new HostConfig(required('DATABASE_URL'), required('JWT_SECRET'), admin);
  }
}

@Module({})
export class HostConfigModule {
  static forRoot(config: HostConfig): DynamicModule {
    return { module: HostConfigModule, global: true, providers: [{ provide: HostConfig, useValue: config }], exports: [HostConfig] };
  }
}
