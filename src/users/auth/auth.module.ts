import { createSecretKey } from 'node:crypto';
import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { AppConfig } from '../../config/app-config';
import { configureExpressRoutes } from '../../http/express-routes';
import { ThrottlerStorageModule } from '../../throttling/throttler-storage.module';
import { UsersModule } from '../users.module';
import { AccessTokens } from './access-tokens.service';
import { AdminBootstrap } from './admin-bootstrap.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { resolveJwtSecret } from './jwt-secret';
import { LoginAttemptGuard } from './login-attempt.guard';
import { LoginLimiter } from './login-limiter.service';
import { RolesGuard } from './roles.guard';

// A sibling of UsersModule that only uses what UsersModule exports (the repository). The guards
// are exported so that AppModule registers them globally, in order: authenticate, then roles.
@Module({
  imports: [
    UsersModule,
    ThrottlerStorageModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        // A KeyObject built once: given a string, jsonwebtoken first tries to parse it as a PEM
        // public key on every verify, which cost ~30% of the CPU of an authenticated request.
        const key = createSecretKey(Buffer.from(resolveJwtSecret(config), 'utf8'));
        return {
          secretOrKeyProvider: () => key,
          signOptions: { algorithm: 'HS256', expiresIn: config.jwtExpiresInSeconds },
          verifyOptions: { algorithms: ['HS256'] },
        };
      },
    }),
  ],
  controllers: [AuthController],
  providers: [AccessTokens, AuthService, LoginLimiter, LoginAttemptGuard, AdminBootstrap, JwtAuthGuard, RolesGuard],
  exports: [JwtAuthGuard, RolesGuard, AdminBootstrap],
})
export class AuthModule implements NestModule {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

  // Under Express the module reads its routes' bodies itself (README "Express or Fastify").
  configure(consumer: MiddlewareConsumer): void {
    configureExpressRoutes(consumer, this.adapterHost, [AuthController], this.config.bodyLimitBytes);
  }
}
