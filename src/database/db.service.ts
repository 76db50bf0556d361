import { Injectable } from '@nestjs/common';
import { TransactionHost } from '@nestjs-cls/transactional';
import type { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsService } from 'nestjs-cls';
import type { PoolClient } from 'pg';
import type { EntityManager, QueryRunner } from 'typeorm';

const AFTER_COMMIT = Symbol('db:afterCommit');
type Hook = () => Promise<void>;

// The repository's door to PostgreSQL. Every statement runs on the ambient transaction when one
// is open (nestjs-cls keeps it in AsyncLocalStorage), otherwise on a pooled connection.
@Injectable()
export class Db {
  constructor(
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    private readonly cls: ClsService,
  ) {}

  get manager(): EntityManager {
    return this.txHost.tx;
  }

  inTransaction(): boolean {
    return this.txHost.isTransactionActive();
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.withRunner(async (runner) => {
      const result = await runner.query(sql, params, true);
      return result.records as T[];
    });
  }

  // Direct access to the pg client for what TypeORM cannot stream (COPY, cursors).
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withRunner(async (runner) => work((await runner.connect()) as PoolClient));
  }

  // Runs `work` in one transaction, or inside the caller's when one is open. Hooks registered
  // with afterCommit run once the outermost transaction commits, and never after a rollback.
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction()) return work();
    return this.cls.run({ ifNested: 'inherit' }, async () => {
      const hooks: Hook[] = [];
      this.cls.set(AFTER_COMMIT, hooks);
      const result = await this.txHost.withTransaction(work);
      this.cls.set(AFTER_COMMIT, undefined);
      for (const hook of hooks) await hook();
      return result;
    });
  }

  async afterCommit(hook: Hook): Promise<void> {
    const hooks = this.inTransaction() ? this.cls.get<Hook[] | undefined>(AFTER_COMMIT) : undefined;
    if (hooks) hooks.push(hook);
    else await hook();
  }

  private async withRunner<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const manager = this.txHost.tx;
    if (manager.queryRunner) return work(manager.queryRunner);
    const runner = manager.connection.createQueryRunner();
    try {
      return await work(runner);
    } finally {
      await runner.release();
    }
  }
}
