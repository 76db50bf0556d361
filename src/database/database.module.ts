import { Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ClsPluginTransactional, getTransactionHostToken, type TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule, ClsService } from 'nestjs-cls';
import type { DataSource } from 'typeorm';
import type { SettingsSource } from '../common/settings-source';
import { Db } from './db.service';
import { TableNames } from './table-names';

// The data source Db runs on, whether this module created it (and so must close it) or was
// given the host's (which the host closes), and the names of the tables in it.
export class DbConnection {
  constructor(
    readonly dataSource: DataSource,
    readonly owned: boolean,
    readonly tables: TableNames,
  ) {}
}

export const DB_DATA_SOURCE = Symbol('DB_DATA_SOURCE');

@Injectable()
class OwnedDataSourceCloser implements OnApplicationShutdown {
  constructor(private readonly connection: DbConnection) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.connection.owned && this.connection.dataSource.isInitialized) await this.connection.dataSource.destroy();
  }
}

// Db on a PostgreSQL data source given by whoever imports the module. Transactions live in
// AsyncLocalStorage under `connectionName`, a transaction host of their own (the plugin's hosts are
// global): a host that uses @nestjs-cls/transactional keeps its default one, and two importers
// with their own names never run on each other's data source.
@Module({})
export class DatabaseModule {
  static register(connection: SettingsSource<DbConnection>, connectionName: string): DynamicModule {
    const connectionProvider = { provide: DbConnection, inject: connection.inject ?? [], useFactory: connection.useFactory };
    const dataSourceProvider = { provide: DB_DATA_SOURCE, inject: [DbConnection], useFactory: (c: DbConnection) => c.dataSource };
    const tablesProvider = { provide: TableNames, inject: [DbConnection], useFactory: (c: DbConnection) => c.tables };
    // The transactional plugin resolves the data source in a module of its own.
    const connectionModule: DynamicModule = {
      module: class DbConnectionModule {},
      imports: connection.imports ?? [],
      providers: [connectionProvider, dataSourceProvider, tablesProvider],
      exports: [DbConnection, DB_DATA_SOURCE, TableNames],
    };
    const cls = ClsModule.forRoot({
      plugins: [
        new ClsPluginTransactional({
          connectionName,
          imports: [connectionModule],
          adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: DB_DATA_SOURCE }),
        }),
      ],
    });
    return {
      module: DatabaseModule,
      imports: [connectionModule, cls],
      providers: [
        {
          provide: Db,
          inject: [getTransactionHostToken(connectionName), ClsService],
          useFactory: (txHost: TransactionHost<TransactionalAdapterTypeOrm>, cls: ClsService) => new Db(txHost, cls),
        },
        OwnedDataSourceCloser,
      ],
      exports: [Db, connectionModule, cls],
    };
  }
}
