import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createExpressTestApp, createTestApp, type TestApp } from '../harness/create-test-app';

const POLICY = { retentionWarnAfterDays: 30, retentionDeactivateAfterDays: 60, retentionAnonymizeAfterDays: 90, retentionSchedule: '0 3 * * *' };

async function dormantUser(t: TestApp<INestApplication>, daysAgo: number): Promise<string> {
  const { user } = await t.factories.createUser();
  await t.app.get(DataSource).query(`UPDATE users SET created_at = now() - make_interval(days => $2::int) WHERE id = $1`, [user.id, daysAgo]);
  return user.id;
}

describe('/users/dormant and /users/retention', () => {
  let t: TestApp;
  let auth: { authorization: string };

  beforeAll(async () => {
    t = await createTestApp(POLICY);
    auth = { authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(() => t.close());

  it('lists and counts dormant users, by keyset pages, and validates the query', async () => {
    const older = await dormantUser(t, 50);
    const newer = await dormantUser(t, 40);
    await dormantUser(t, 5);
    const first = await t.http.get('/users/dormant?inactiveForDays=35&limit=1').set(auth).expect(200);
    expect(first.body.items.map((u: { id: string }) => u.id)).toEqual([older]);
    expect(first.body.items[0]).not.toHaveProperty('hashedPassword');
    const second = await t.http.get(`/users/dormant?inactiveForDays=35&limit=1&after=${first.body.nextCursor}`).set(auth).expect(200);
    expect(second.body).toEqual({ items: [expect.objectContaining({ id: newer })], nextCursor: null });
    await expect(t.http.get('/users/dormant/count?inactiveForDays=35').set(auth).expect(200)).resolves.toMatchObject({ body: { count: 2 } });
    for (const bad of ['', 'inactiveForDays=0', 'inactiveForDays=abc', 'inactiveForDays=36501', 'inactiveForDays=35&after=garbage', 'inactiveForDays=35&limit=0']) {
      const res = await t.http.get(`/users/dormant?${bad}`).set(auth);
      expect([bad, res.status, res.body.code]).toEqual([bad, 400, 'VALIDATION_FAILED']);
    }
    await t.http.get('/users/dormant/count').set(auth).expect(400);
    await t.http.get('/users/dormant?inactiveForDays=35').expect(401);
  });

  it('shows the effective policy, runs it dry and for real, audits the request', async () => {
    const policy = await t.http.get('/users/retention/policy').set(auth).expect(200);
    expect(policy.body).toEqual({ enabled: true, warnAfterDays: 30, deactivateAfterDays: 60, anonymizeAfterDays: 90, schedule: '0 3 * * *', batchSize: 500 });

    await t.http.post('/users/retention/run').set(auth).expect(400);
    await t.http.post('/users/retention/run?dryRun=maybe').set(auth).expect(400);
    const dry = await t.http.post('/users/retention/run?dryRun=true').set(auth).expect(200);
    expect(dry.body).toMatchObject({ dryRun: true, skipped: false, counts: { warned: 2, deactivated: 0, anonymized: 0 } });
    const real = await t.http.post('/users/retention/run?dryRun=false').set(auth).expect(200);
    expect(real.body).toEqual({ ...dry.body, dryRun: false });
    const again = await t.http.post('/users/retention/run?dryRun=false').set(auth).expect(200);
    expect(again.body.counts).toEqual({ warned: 0, deactivated: 0, anonymized: 0 });

    const rows = await t.app.get(DataSource).query(`SELECT action, actor_id::text FROM audit_log WHERE action LIKE 'retention.%' OR action = 'users.retention-run' ORDER BY id`);
    expect(rows).toEqual([
      { action: 'users.retention-run', actor_id: t.admin.id },
      { action: 'retention.warn', actor_id: t.admin.id },
      { action: 'retention.warn', actor_id: t.admin.id },
      { action: 'users.retention-run', actor_id: t.admin.id },
      { action: 'users.retention-run', actor_id: t.admin.id },
    ]);
  });
});

describe('/users/dormant and /users/retention on Express', () => {
  it('are not taken for /users/:id', async () => {
    const t = await createExpressTestApp({ retentionWarnAfterDays: 30 });
    try {
      const auth = { authorization: `Bearer ${t.adminToken}` };
      await t.http.get('/users/dormant?inactiveForDays=30').set(auth).expect(200);
      await t.http.get('/users/dormant/count?inactiveForDays=30').set(auth).expect(200);
      await expect(t.http.get('/users/retention/policy').set(auth).expect(200)).resolves.toMatchObject({ body: { warnAfterDays: 30, deactivateAfterDays: null } });
    } finally {
      await t.close();
    }
  });
});
