import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHostApp } from '../src/bootstrap';
import { OwnedPoolAppModule } from '../src/owned-pool.module';
import { TEAM_LEAD, TeamService } from '../src/teams/team.service';
import { adapter, call, listen, testConfig, withDatabase } from './support';

// The module's own pool is the one named `nest-users` (its application_name).
const ownPoolConnections = () =>
  withDatabase(async (db) => {
    const result = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'nest-users'`);
    return (result.rows[0] as { n: number }).n;
  });

describe(`host app with UsersModule on a pool of its own, no routes (${adapter})`, () => {
  let app: INestApplication | undefined;
  let base: string;

  before(async () => {
    app = await createHostApp(OwnedPoolAppModule.forRoot(testConfig()), adapter, ['error']);
    base = await listen(app);
  });

  after(async () => {
    await app?.close();
  });

  it('mounts no route of the module: /users and /auth/login answer 404', async () => {
    assert.equal((await call(base, 'GET', '/users')).status, 404);
    assert.equal((await call(base, 'POST', '/users', undefined, {})).status, 404);
    assert.equal((await call(base, 'POST', '/auth/login', undefined, { email: 'a@b.example', password: 'x' })).status, 404);
  });

  it('has no TypeORM data source of the host', () => {
    assert.throws(() => app!.get(getDataSourceToken()));
  });

  it('serves UsersRepository on its own pool, with tables under own_', async () => {
    const teams = app!.get(TeamService);
    const user = await teams.addMember('pool@host.example', 'Pool-passphrase-6620!', 'Pool User');
    await teams.makeLead(user.id);
    assert.deepEqual(
      (await teams.membersWithRole(TEAM_LEAD)).items.map((u) => u.email),
      ['pool@host.example'],
    );
    assert.ok((await ownPoolConnections()) > 0);
    await withDatabase(async (db) => {
      const stored = await db.query(`SELECT email FROM own_users WHERE $1 = ANY(roles)`, [TEAM_LEAD]);
      assert.deepEqual(stored.rows, [{ email: 'pool@host.example' }]);
    });
  });

  it('closes its pool when the app closes', async () => {
    await app!.close();
    app = undefined;
    let open = await ownPoolConnections();
    for (let i = 0; open > 0 && i < 50; i++) {
      await sleep(100);
      open = await ownPoolConnections();
    }
    assert.equal(open, 0);
  });
});
