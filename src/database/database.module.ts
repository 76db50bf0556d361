import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions({
          url: config.databaseUrl!,
          poolMax: config.databasePoolMax,
          connectTimeoutMs: config.databaseConnectTimeoutMs,
          statementTimeoutMs: config.databaseStatementTimeoutMs,
          migrationsRun: config.migrationsRun,
        }),
        // Fail fast at boot instead of retrying for minutes; the orchestrator restarts us.
        retryAttempts: 0,
      }),
    }),
  ],
})
export class DatabaseModule {}
