import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from '../users/users-data-source';
import { Db } from './db.service';
import { TableNames } from './table-names';

@Global()
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
    // Transactions live in AsyncLocalStorage: repository calls made inside dbTransaction join it.
    ClsModule.forRoot({
      global: true,
      plugins: [
        new ClsPluginTransactional({
          imports: [TypeOrmModule],
          adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: DataSource }),
        }),
      ],
    }),
  ],
  // Default naming until UsersModule's options provide it.
  providers: [Db, { provide: TableNames, useValue: new TableNames() }],
  exports: [Db, TableNames],
})
export class DatabaseModule {}
