import { randomUUID } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { UserCache } from '../../src/users/user-cache.service';
import { AppConfigModule } from '../../src/config/app-config.module';
import { Db } from '../../src/database/db.service';
import type { User } from '../../src/users/user.model';
import { appDataSource, appUsersModule } from '../../src/app.module';
import { UsersRepository } from '../../src/users/users.repository';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createTestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';

const uniqueEmail = (prefix = 'tx') => `${prefix}-${randomUUID()}@example.com`;

function poolOf(dataSource: DataSource): Pool {
  return (dataSource.driver as PostgresDriver).master as Pool;
}

// Every connection the pool opened is back and idle, and nobody waits for one.
function expectPoolSettled(pool: Pool): void {
  expect(pool.waitingCount).toBe(0);
  expect(pool.idleCount).toBe(pool.totalCount);
}

describe('dbTransaction', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());

  const auditRows = (userId: string) => ctx.sql(`SELECT action FROM audit_log WHERE user_id = $1`, [userId]);

  it('commits several repository calls atomically', async () => {
    const existing = await ctx.users.upsertUser(uniqueEmail());
    const [created, updated] = await ctx.users.dbTransaction(async () => {
      const a = await ctx.users.upsertUser(uniqueEmail(), { fullName: 'Ada' });
      const b = await ctx.users.partialUpdateUser(existing.id, { fullName: 'Grace' });
      await ctx.users.auditLogUserChange(b.id, 'user.update', { fields: ['fullName'] });
      // Not visible to another connection until commit.
      await expect(ctx.sql(`SELECT 1 FROM users WHERE id = $1`, [a.id])).resolves.toEqual([]);
      return [a, b];
    });
    await expect(ctx.users.getUserById(created.id)).resolves.toMatchObject({ fullName: 'Ada' });
    await expect(ctx.users.getUserById(updated.id)).resolves.toMatchObject({ fullName: 'Grace' });
    await expect(auditRows(existing.id)).resolves.toEqual([{ action: 'user.update' }]);
  });

  it('rolls back every write and audit row on a throw, and caches or invalidates nothing', async () => {
    const existing = await ctx.users.upsertUser(uniqueEmail(), { fullName: 'Before' });
    await ctx.users.getUserById(existing.id); // cached
    const cache = ctx.module.get(UserCache);
    const deletes = jest.spyOn(cache, 'delete');
    const email = uniqueEmail('rolled-back');
    let createdId = '';

    await expect(
      ctx.users.dbTransaction(async () => {
        createdId = (await ctx.users.upsertUser(email)).id;
        await ctx.users.partialUpdateUser(existing.id, { fullName: 'During' });
        await ctx.users.auditLogUserChange(existing.id, 'user.update', { fields: ['fullName'] });
        // Read inside the transaction: it sees its own write but must not cache it.
        await ctx.users.getUserById(createdId);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(deletes).not.toHaveBeenCalled();
    deletes.mockRestore();
    await expect(ctx.users.isEmailUnique(email)).resolves.toBe(true);
    await expect(ctx.users.getUserById(createdId)).resolves.toBeNull();
    await expect(cache.get(createdId)).resolves.toBeUndefined();
    await expect(auditRows(existing.id)).resolves.toEqual([]);
    // The committed row is unchanged, from the cache and from the database.
    await expect(ctx.users.getUserById(existing.id)).resolves.toMatchObject({ fullName: 'Before', version: existing.version });
    await expect(ctx.sql(`SELECT full_name FROM users WHERE id = $1`, [existing.id])).resolves.toEqual([{ full_name: 'Before' }]);
  });

  it('reads a user updated inside a failed transaction fresh from the database afterwards', async () => {
    const user = await ctx.users.upsertUser(uniqueEmail(), { fullName: 'Fresh' });
    await expect(
      ctx.users.dbTransaction(async () => {
        await ctx.users.partialUpdateUser(user.id, { fullName: 'Phantom' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(ctx.module.get(UserCache).get(user.id)).resolves.toBeUndefined();
    await expect(ctx.users.getUserById(user.id)).resolves.toMatchObject({ fullName: 'Fresh' });
  });

  it('runs a nested dbTransaction inside the outer one', async () => {
    const db = ctx.module.get(Db);
    const txid = async () => (await db.query<{ txid: string }>(`SELECT txid_current()::text AS txid`))[0].txid;
    const email = uniqueEmail('nested');
    let outer = '';
    let inner = '';
    await expect(
      ctx.users.dbTransaction(async () => {
        outer = await txid();
        await ctx.users.dbTransaction(async () => {
          inner = await txid();
          await ctx.users.upsertUser(email);
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(inner).toBe(outer);
    await expect(ctx.users.isEmailUnique(email)).resolves.toBe(true);
  });

  it('leaks no connection after throwing inside 2x the pool size of transactions', async () => {
    const pool = poolOf(ctx.dataSource);
    const poolMax = ctx.config.databasePoolMax;
    expect(poolMax).toBe(5);
    const failures = await Promise.allSettled(
      Array.from({ length: poolMax * 2 }, (_, i) =>
        ctx.users.dbTransaction(async () => {
          await ctx.users.upsertUser(uniqueEmail(`leak-${i}`));
          throw new Error(`failure ${i}`);
        }),
      ),
    );
    expect(failures.every((f) => f.status === 'rejected')).toBe(true);
    const started = Date.now();
    await expect(ctx.users.countUsers()).resolves.toEqual(expect.any(Number));
    expect(Date.now() - started).toBeLessThan(1000);
    expectPoolSettled(pool);
    expect(pool.totalCount).toBeLessThanOrEqual(poolMax);
    await expect(ctx.sql(`SELECT count(*)::int AS n FROM users WHERE email LIKE 'leak-%'`)).resolves.toEqual([{ n: 0 }]);
  });
});

// A sibling module that is not part of the app: the host imports UsersModule once (isGlobal), and
// this module injects the repository and uses it inside dbTransaction, as another team's would.
@Injectable()
class TeamOnboarding {
  constructor(private readonly users: UsersRepository) {}

  onboard(emails: string[], failAfter?: number): Promise<User[]> {
    return this.users.dbTransaction(async () => {
      const created: User[] = [];
      for (const email of emails) {
        if (created.length === failAfter) throw new Error('onboarding aborted');
        created.push(await this.users.upsertUser(email, { roles: ['user', 'team'] }));
      }
      return created;
    });
  }
}

@Module({ providers: [TeamOnboarding], exports: [TeamOnboarding] })
class TeamModule {}

describe('a sibling module using UsersRepository', () => {
  it('injects the repository and runs its work in one transaction', async () => {
    const database = await createTestDatabase();
    const module = await Test.createTestingModule({
      imports: [AppConfigModule.forRoot(testConfig(database.url)), appDataSource(), appUsersModule({ routes: false, isGlobal: true }), TeamModule],
    }).compile();
    await module.init();
    try {
      const onboarding = module.get(TeamOnboarding);
      const users = module.get(UsersRepository);
      const emails = [uniqueEmail('team'), uniqueEmail('team'), uniqueEmail('team')];

      await expect(onboarding.onboard(emails, 2)).rejects.toThrow('onboarding aborted');
      await expect(users.filterUsersByRole('team')).resolves.toMatchObject({ total: 0 });

      const created = await onboarding.onboard(emails);
      expect(created).toHaveLength(3);
      await expect(users.filterUsersByRole('team')).resolves.toMatchObject({ total: 3 });
    } finally {
      await module.close();
      await database.drop();
    }
  });
});

describe('dbSessionContext', () => {
  let ctx: RepositoryContext;
  let pool: Pool;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
    pool = poolOf(ctx.dataSource);
  });
  afterAll(() => ctx.close());

  const pid = async (run: (sql: string) => Promise<{ pid: number }[]>) => (await run('SELECT pg_backend_pid() AS pid'))[0].pid;

  it('runs repository calls made in the callback on the session connection, then releases it', async () => {
    const db = ctx.module.get(Db);
    await ctx.users.upsertUser(uniqueEmail());
    const result = await ctx.users.dbSessionContext(async (session) => {
      const sessionPid = await pid((sql) => session.query(sql));
      const [viaDb, viaRepository] = await Promise.all([
        pid((sql) => db.query(sql)),
        // A temp table named users shadows the real one only on this connection, so a
        // repository call that counts zero users ran on it.
        session.query(`CREATE TEMP TABLE users (LIKE public.users INCLUDING ALL)`).then(() => ctx.users.countUsers()),
      ]);
      expect(pool.totalCount - pool.idleCount).toBeGreaterThanOrEqual(1);
      return { sessionPid, viaDb, viaRepository };
    });
    expect(result.viaDb).toBe(result.sessionPid);
    expect(result.viaRepository).toBe(0);
    expectPoolSettled(pool);
    // Released connections carry no session state back into the pool.
    const counts = await Promise.all(Array.from({ length: 8 }, () => ctx.users.countUsers()));
    expect(counts.every((n) => n > 0)).toBe(true);
  });

  it('releases the connection when the callback throws', async () => {
    let held: { released: boolean } | undefined;
    await expect(
      ctx.users.dbSessionContext(async (session) => {
        held = session;
        await session.query('SELECT 1');
        throw new Error('callback failed');
      }),
    ).rejects.toThrow('callback failed');
    expect(held?.released).toBe(true);
    expectPoolSettled(pool);
  });

  it('works with await using and releases at the end of the block', async () => {
    let outside: { released: boolean } | undefined;
    {
      await using session = await ctx.users.dbSessionContext();
      outside = session;
      await expect(session.query<{ one: number }>('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
      expect(session.released).toBe(false);
      expect(pool.idleCount).toBeLessThan(pool.totalCount);
    }
    expect(outside.released).toBe(true);
    expectPoolSettled(pool);
  });

  it('releases with await using when the block throws, and tolerates a second release', async () => {
    let outside: { released: boolean; release(): Promise<void> } | undefined;
    await expect(
      (async () => {
        await using session = await ctx.users.dbSessionContext();
        outside = session;
        await session.query('SELECT 1');
        throw new Error('block failed');
      })(),
    ).rejects.toThrow('block failed');
    expect(outside?.released).toBe(true);
    await expect(outside!.release()).resolves.toBeUndefined();
    expectPoolSettled(pool);
  });

  it('closes a connection left inside an open transaction instead of reusing it', async () => {
    const leftPid = await ctx.users.dbSessionContext(async (session) => {
      await session.query('BEGIN');
      await session.query(`INSERT INTO audit_log (action) VALUES ('session.left-open')`);
      return pid((sql) => session.query(sql));
    });
    expectPoolSettled(pool);
    const pids = await Promise.all(Array.from({ length: 5 }, () => ctx.users.dbSessionContext((s) => pid((sql) => s.query(sql)))));
    expect(pids).not.toContain(leftPid);
    await expect(ctx.sql(`SELECT 1 FROM audit_log WHERE action = 'session.left-open'`)).resolves.toEqual([]);
    const stuck = await ctx.sql(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
    expect(stuck).toEqual([]);
  });

  it('serves more sessions than the pool holds, one after another, without leaking', async () => {
    for (let i = 0; i < ctx.config.databasePoolMax * 2; i += 1) {
      await ctx.users.dbSessionContext((session) => session.query('SELECT 1'));
    }
    expectPoolSettled(pool);
  });
});
