import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { appDataSource, appUsersModule } from '../../src/app.module';
import { AppConfigModule } from '../../src/config/app-config.module';
import { TableNames } from '../../src/database/table-names';
import { RetentionScheduler } from '../../src/users/retention/retention-scheduler';
import { createTestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';
import { RetentionPolicy, retentionLockKey, type RetentionReport } from '../../src/users/retention/retention-policy.service';
import { UsersSettings, type UsersModuleSettings } from '../../src/users/users.options';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createUser } from '../support/user-factory';

// The contexts here mount no routes: the tests record logins through the repository.
const POLICY = { warnAfterDays: 30, deactivateAfterDays: 60, anonymizeAfterDays: 90, batchSize: 2, loginsRecordedByHost: true };

interface Seen {
  daysAgo: number;
  warnedDaysAgo?: number;
  isActive?: boolean;
  roles?: string[];
  deleted?: boolean;
}

// A user last seen (created, never logged in) `daysAgo` days ago.
async function userSeen(ctx: RepositoryContext, seen: Seen): Promise<string> {
  const user = await createUser(ctx.users, { isActive: seen.isActive ?? true, roles: seen.roles ?? ['user'] });
  await ctx.sql(
    `UPDATE users SET created_at = now() - make_interval(days => $2::int),
       dormant_warned_at = CASE WHEN $3::int IS NULL THEN NULL ELSE now() - make_interval(days => $3::int) END,
       deleted_at = CASE WHEN $4 THEN now() END, is_deleted = $4
     WHERE id = $1`,
    [user.id, seen.daysAgo, seen.warnedDaysAgo ?? null, seen.deleted === true],
  );
  return user.id;
}

const eventsOf = (ctx: RepositoryContext, type: string) =>
  ctx.sql<{ user_id: string; actor_id: string | null; changed_fields: string[] }>(`SELECT user_id::text, actor_id::text, changed_fields FROM outbox WHERE type = $1 ORDER BY seq`, [type]);
const auditOf = (ctx: RepositoryContext, action: string) =>
  ctx.sql<{ user_id: string; actor_id: string | null; details: Record<string, unknown> }>(`SELECT user_id::text, actor_id::text, details FROM audit_log WHERE action = $1 ORDER BY id`, [action]);
const state = (ctx: RepositoryContext) =>
  ctx.sql(`SELECT id, version, is_active, dormant_warned_at, deleted_at, anonymized_at, email FROM users ORDER BY id`);
const sorted = (ids: string[]) => [...ids].sort();

describe('the retention policy', () => {
  describe('settings', () => {
    const settings = (retention: UsersModuleSettings['retention']) => new UsersSettings({ retention }, { dataSource: 'default', routes: false });

    it('takes each step alone, in any combination, and fills in the schedule and batch size', () => {
      expect(settings(undefined).retention).toEqual({ warnAfterDays: null, deactivateAfterDays: null, anonymizeAfterDays: null, schedule: '0 * * * *', batchSize: 500 });
      expect(settings({ anonymizeAfterDays: 400, schedule: '30 3 * * *', loginsRecordedByHost: true }).retention).toMatchObject({ warnAfterDays: null, anonymizeAfterDays: 400, schedule: '30 3 * * *' });
      expect(settings({ warnAfterDays: 10, anonymizeAfterDays: 20, batchSize: 50, loginsRecordedByHost: true }).retention).toMatchObject({ warnAfterDays: 10, anonymizeAfterDays: 20, batchSize: 50 });
    });

    it('refuses steps out of order, days that are not whole and positive, and a bad schedule', () => {
      // Without the module's login, last_login_at does not move unless the host records logins.
      expect(() => settings({ anonymizeAfterDays: 400 })).toThrow(/option retention must be .*loginsRecordedByHost: true/);
      expect(settings({ warnAfterDays: 30 }).retention).toMatchObject({ warnAfterDays: 30 });
      expect(new UsersSettings({ retention: { anonymizeAfterDays: 400 }, jwt: { secret: 'x'.repeat(40) } }, { dataSource: 'default' }).retention).toMatchObject({ anonymizeAfterDays: 400 });
      expect(() => settings({ warnAfterDays: 60, deactivateAfterDays: 60 })).toThrow('option retention.deactivateAfterDays must be greater than retention.warnAfterDays (60)');
      expect(() => settings({ warnAfterDays: 90, anonymizeAfterDays: 30 })).toThrow('option retention.anonymizeAfterDays must be greater than retention.warnAfterDays (90)');
      expect(() => settings({ deactivateAfterDays: 0 })).toThrow(/retention.deactivateAfterDays must be a whole number >= 1/);
      expect(() => settings({ warnAfterDays: 1.5 })).toThrow(/retention.warnAfterDays/);
      expect(() => settings({ warnAfterDays: 36_501 })).toThrow(/retention.warnAfterDays must be at most 36500/);
      expect(() => settings({ warnAfterDays: 1, schedule: 'every hour' })).toThrow(/retention.schedule must be a cron expression/);
    });
  });

  it('does nothing without a policy', async () => {
    const ctx = await createRepositoryContext({}, { settings: { events: { relay: false } } });
    try {
      await userSeen(ctx, { daysAgo: 1000 });
      const retention = ctx.module.get(RetentionPolicy);
      expect(retention.enabled).toBe(false);
      await expect(retention.run({ dryRun: false })).resolves.toEqual({
        dryRun: false,
        skipped: false,
        warned: [],
        deactivated: [],
        anonymized: [],
        counts: { warned: 0, deactivated: 0, anonymized: 0 },
      });
      expect(await eventsOf(ctx, 'user.dormant')).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  describe('a run', () => {
    let ctx: RepositoryContext;
    let retention: RetentionPolicy;
    const u: Record<string, string> = {};

    beforeAll(async () => {
      ctx = await createRepositoryContext({}, { settings: { events: { relay: false }, retention: POLICY } });
      retention = ctx.module.get(RetentionPolicy);
      u.fresh = await userSeen(ctx, { daysAgo: 5 });
      u.warn1 = await userSeen(ctx, { daysAgo: 40 });
      u.warn2 = await userSeen(ctx, { daysAgo: 41 });
      u.warn3 = await userSeen(ctx, { daysAgo: 42 });
      // Past the deactivation, but warned too recently (the notice is 60 - 30 days), or never.
      u.noticeRunning = await userSeen(ctx, { daysAgo: 70, warnedDaysAgo: 10 });
      u.neverWarned = await userSeen(ctx, { daysAgo: 71 });
      u.deactivate = await userSeen(ctx, { daysAgo: 72, warnedDaysAgo: 35 });
      // Past the anonymization, notice over: erased, deactivated already or not.
      u.activePastAll = await userSeen(ctx, { daysAgo: 100, warnedDaysAgo: 70 });
      u.anonymize = await userSeen(ctx, { daysAgo: 101, warnedDaysAgo: 71, isActive: false });
      u.admin = await userSeen(ctx, { daysAgo: 500, roles: ['user', 'admin'] });
      u.inactiveAdmin = await userSeen(ctx, { daysAgo: 500, warnedDaysAgo: 400, roles: ['admin'], isActive: false });
      u.deleted = await userSeen(ctx, { daysAgo: 500, deleted: true });
    });
    afterAll(() => ctx.close());

    let dry: RetentionReport;

    it('reports in a dry run what it would do, and changes nothing', async () => {
      const before = await state(ctx);
      dry = await retention.run({ dryRun: true });
      expect(dry).toMatchObject({ dryRun: true, skipped: false, counts: { warned: 4, deactivated: 1, anonymized: 2 } });
      // Longest unseen first, at most batchSize listed.
      expect(dry.warned).toEqual([u.neverWarned, u.warn3]);
      expect(dry.deactivated).toEqual([u.deactivate]);
      expect(dry.anonymized).toEqual([u.anonymize, u.activePastAll]);
      expect(await state(ctx)).toEqual(before);
      for (const type of ['user.dormant', 'user.deactivated', 'user.anonymized']) expect(await eventsOf(ctx, type)).toEqual([]);
      expect(await ctx.sql(`SELECT 1 FROM audit_log WHERE action LIKE 'retention.%'`)).toEqual([]);
    });

    it('then does exactly that, in batches, with the events and audit rows of each change', async () => {
      const report = await retention.run({ dryRun: false });
      expect(report).toEqual({ ...dry, dryRun: false });

      const warned = [u.warn1, u.warn2, u.warn3, u.neverWarned];
      const dormant = await eventsOf(ctx, 'user.dormant');
      expect(sorted(dormant.map((e) => e.user_id))).toEqual(sorted(warned));
      expect(dormant.every((e) => e.actor_id === null && e.changed_fields.length === 0)).toBe(true);
      expect((await eventsOf(ctx, 'user.deactivated')).map((e) => e.user_id)).toEqual([u.deactivate]);
      expect((await eventsOf(ctx, 'user.anonymized')).map((e) => e.user_id)).toEqual([u.anonymize, u.activePastAll]);

      const warnAudit = await auditOf(ctx, 'retention.warn');
      expect(sorted(warnAudit.map((a) => a.user_id))).toEqual(sorted(warned));
      expect(warnAudit[0]).toMatchObject({ actor_id: null, details: { afterDays: 30, outcome: 'success' } });
      expect((await auditOf(ctx, 'retention.deactivate')).map((a) => a.user_id)).toEqual([u.deactivate]);
      expect((await auditOf(ctx, 'retention.anonymize')).map((a) => a.user_id)).toEqual([u.anonymize, u.activePastAll]);

      const rows = new Map((await state(ctx)).map((r) => [r.id as string, r]));
      for (const id of warned) expect(rows.get(id)).toMatchObject({ dormant_warned_at: expect.any(Date), is_active: true });
      expect(rows.get(u.deactivate)).toMatchObject({ is_active: false, version: 2 });
      for (const id of [u.anonymize, u.activePastAll]) expect(rows.get(id)).toMatchObject({ anonymized_at: expect.any(Date), deleted_at: expect.any(Date), is_active: false });
      await expect(ctx.users.getUserById(u.deactivate)).resolves.toMatchObject({ isActive: false });
      // Untouched: the fresh user, the notice still running, the admins, the soft-deleted user.
      for (const id of [u.fresh, u.noticeRunning, u.admin, u.inactiveAdmin, u.deleted]) expect(rows.get(id)).toMatchObject({ version: 1 });
      expect(rows.get(u.admin)).toMatchObject({ dormant_warned_at: null, is_active: true });
      for (const id of [u.fresh, u.noticeRunning, u.admin, u.inactiveAdmin, u.deleted]) {
        expect(await ctx.sql(`SELECT type FROM outbox WHERE user_id = $1 AND type <> 'user.created'`, [id])).toEqual([]);
      }
    });

    it('finds nothing to do right after', async () => {
      const events = await ctx.sql(`SELECT count(*)::int AS n FROM outbox`);
      const report = await retention.run({ dryRun: false });
      expect(report).toMatchObject({ skipped: false, warned: [], deactivated: [], anonymized: [], counts: { warned: 0, deactivated: 0, anonymized: 0 } });
      await expect(retention.run({ dryRun: true })).resolves.toMatchObject({ counts: { warned: 0, deactivated: 0, anonymized: 0 } });
      expect(await ctx.sql(`SELECT count(*)::int AS n FROM outbox`)).toEqual(events);
    });

    it('warns again an account an admin reactivated, which then gets the whole notice before it is deactivated again', async () => {
      await ctx.users.reactivateUser(u.deactivate);
      const report = await retention.run({ dryRun: false });
      expect(report.counts).toEqual({ warned: 1, deactivated: 0, anonymized: 0 });
      expect(report.warned).toEqual([u.deactivate]);
      await expect(ctx.users.getUserById(u.deactivate)).resolves.toMatchObject({ isActive: true });
    });

    it('skips the run while another holds the lock', async () => {
      const holder = ctx.dataSource.createQueryRunner();
      await holder.connect();
      const lock = retentionLockKey(new TableNames());
      try {
        await holder.query(`SELECT pg_advisory_lock($1::bigint)`, [lock]);
        await expect(retention.run({ dryRun: true })).resolves.toMatchObject({ dryRun: true, skipped: true, counts: { warned: 0 } });
      } finally {
        await holder.query(`SELECT pg_advisory_unlock($1::bigint)`, [lock]);
        await holder.release();
      }
      await expect(retention.run({ dryRun: true })).resolves.toMatchObject({ skipped: false });
    });
  });

  it('does the work once when two instances run at the same time', async () => {
    const first = await createRepositoryContext({}, { settings: { events: { relay: false }, retention: { warnAfterDays: 30, deactivateAfterDays: 60, batchSize: 5, loginsRecordedByHost: true } } });
    const second = await createRepositoryContext({}, { database: first.database, keepDatabase: true, settings: { events: { relay: false }, retention: { warnAfterDays: 30, deactivateAfterDays: 60, batchSize: 5, loginsRecordedByHost: true } } });
    try {
      const warned: string[] = [];
      for (let i = 0; i < 40; i++) warned.push(await userSeen(first, { daysAgo: 40 + i }));
      const deactivated: string[] = [];
      for (let i = 0; i < 10; i++) deactivated.push(await userSeen(first, { daysAgo: 100 + i, warnedDaysAgo: 40 }));
      const reports = await Promise.all([first, second, first, second].map((ctx) => ctx.module.get(RetentionPolicy).run({ dryRun: false })));
      expect(reports.reduce((n, r) => n + r.counts.warned, 0)).toBe(40);
      expect(reports.reduce((n, r) => n + r.counts.deactivated, 0)).toBe(10);
      const perUser = await first.sql<{ type: string; users: number; events: number }>(
        `SELECT type, count(DISTINCT user_id)::int AS users, count(*)::int AS events FROM outbox WHERE type IN ('user.dormant', 'user.deactivated') GROUP BY type ORDER BY type`,
      );
      expect(perUser).toEqual([
        { type: 'user.deactivated', users: 10, events: 10 },
        { type: 'user.dormant', users: 40, events: 40 },
      ]);
      const audited = await first.sql(`SELECT action, count(*)::int AS n FROM audit_log WHERE action LIKE 'retention.%' GROUP BY action ORDER BY action`);
      expect(audited).toEqual([
        { action: 'retention.deactivate', n: 10 },
        { action: 'retention.warn', n: 40 },
      ]);
    } finally {
      await second.close();
      await first.close();
    }
  });

  describe('the scheduled job', () => {
    it('exists only when the policy has a step, and stops with the module', async () => {
      const without = await createRepositoryContext({}, { settings: { events: { relay: false } } });
      const withPolicy = await createRepositoryContext({}, { database: without.database, keepDatabase: true, settings: { events: { relay: false }, retention: { anonymizeAfterDays: 400, loginsRecordedByHost: true } } });
      try {
        expect(without.module.get(RetentionScheduler).scheduled).toBe(false);
        expect(withPolicy.module.get(RetentionScheduler).scheduled).toBe(true);
      } finally {
        await withPolicy.close();
        await without.close();
      }
      expect(withPolicy.module.get(RetentionScheduler).scheduled).toBe(false);
    });

    it("runs on its schedule, registered in the host's SchedulerRegistry when the host imports ScheduleModule", async () => {
      const database = await createTestDatabase();
      const module = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          AppConfigModule.forRoot(testConfig(database.url)),
          appDataSource(),
          appUsersModule({ routes: false }, { events: { relay: false }, retention: { warnAfterDays: 30, schedule: '* * * * * *' } }),
        ],
      }).compile();
      await module.init();
      try {
        const registry = module.get(SchedulerRegistry);
        expect([...registry.getCronJobs().keys()]).toEqual([expect.stringMatching(/^nest-users-retention-/)]);
        const dataSource = module.get<DataSource>(getDataSourceToken());
        const [{ id }] = await dataSource.query<{ id: string }[]>(
          `INSERT INTO users (email, email_normalized, hashed_password, created_at) VALUES ('dormant@example.com', 'dormant@example.com', 'x', now() - interval '40 days') RETURNING id`,
        );
        const deadline = Date.now() + 5000;
        let warned: unknown[] = [];
        while (warned.length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          warned = await dataSource.query(`SELECT 1 FROM users WHERE id = $1 AND dormant_warned_at IS NOT NULL`, [id]);
        }
        expect(warned).toHaveLength(1);
        expect(await dataSource.query(`SELECT type FROM outbox WHERE user_id = $1`, [id])).toEqual([{ type: 'user.dormant' }]);
      } finally {
        await module.close();
        await database.drop();
      }
    });
  });
});
