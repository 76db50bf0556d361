import type { INestApplication } from '@nestjs/common';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AppModule } from '../src/app.module';
import { createHostApp } from '../src/bootstrap';
import { TEAM_LEAD, TeamService } from '../src/teams/team.service';
import { WelcomeService } from '../src/welcome/welcome.service';
import { adapter, call, listen, login, routesOf, testConfig, withDatabase, type Answer, type Route } from './support';

// The host app of app.module.ts on a database that already has a `users` table of its own.
describe(`host app with UsersModule on its own TypeORM connection (${adapter})`, () => {
  const config = testConfig();
  const hostRows = [
    { id: 1, login: 'host-root' },
    { id: 2, login: 'host-guest' },
  ];
  let app: INestApplication;
  let base: string;
  let usersRoutes: Route[];
  let adminToken: string;
  let memberToken: string;

  before(async () => {
    await withDatabase(async (db) => {
      await db.query(`CREATE TABLE users (id integer PRIMARY KEY, login text NOT NULL UNIQUE)`);
      for (const row of hostRows) await db.query(`INSERT INTO users (id, login) VALUES ($1, $2)`, [row.id, row.login]);
    });
    app = await createHostApp(AppModule.forRoot(config), adapter, ['error']);
    base = await listen(app);
    usersRoutes = routesOf(app).filter((r) => r.path === '/users' || r.path.startsWith('/users/'));
    adminToken = await login(base, config.admin!.email, config.admin!.password);
    await app.get(TeamService).addMember('member@host.example', 'Member-passphrase-5512!', 'Plain Member');
    memberToken = await login(base, 'member@host.example', 'Member-passphrase-5512!');
  });

  after(async () => {
    await app?.close();
  });

  // Path parameters get a well-formed value: the guards must refuse before anything looks it up.
  const concrete = (path: string) => path.replace(':id', randomUUID()).replace(':role', 'auditor');

  // The status and the module's error code (a HEAD answer has no body to carry one).
  const refused = (route: Route, answer: Answer, status: number, code: string) =>
    answer.status === status && (route.method === 'HEAD' || (answer.body as { code?: string }).code === code);
  const describeAnswer = ({ route, answer }: { route: Route; answer: Answer }) => `${route.method} ${route.path}: ${answer.status} ${JSON.stringify(answer.body)}`;

  it('mounts the module routes under /users', () => {
    const names = usersRoutes.map((r) => `${r.method} ${r.path}`);
    assert.ok(names.includes('GET /users'), names.join(', '));
    assert.ok(names.includes('POST /users'), names.join(', '));
    assert.ok(names.includes('GET /users/export'), names.join(', '));
    assert.ok(usersRoutes.length >= 20, `only ${usersRoutes.length} routes: ${names.join(', ')}`);
  });

  it('answers 401 UNAUTHENTICATED on every /users route without a token', async () => {
    const answers = await Promise.all(usersRoutes.map(async (route) => ({ route, answer: await call(base, route.method, concrete(route.path)) })));
    const wrong = answers.filter(({ route, answer }) => !refused(route, answer, 401, 'UNAUTHENTICATED')).map(describeAnswer);
    assert.deepEqual(wrong, []);
  });

  it('answers 403 FORBIDDEN on every /users route with a non-admin token', async () => {
    const answers = await Promise.all(usersRoutes.map(async (route) => ({ route, answer: await call(base, route.method, concrete(route.path), memberToken) })));
    const wrong = answers.filter(({ route, answer }) => !refused(route, answer, 403, 'FORBIDDEN')).map(describeAnswer);
    assert.deepEqual(wrong, []);
  });

  it('gives the bootstrapped admin 200 on GET /users', async () => {
    const answer = await call(base, 'GET', '/users', adminToken);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const emails = (answer.body as { items: { email: string }[] }).items.map((u) => u.email).sort();
    assert.deepEqual(emails, ['member@host.example', 'root@host.example']);
  });

  it('runs the host TeamService on UsersRepository: create, assign a role, filter by role, search', async () => {
    const teams = app.get(TeamService);
    const lead = await teams.addMember('lead@host.example', 'Lead-passphrase-9034!', 'Team Lead');
    assert.ok(!lead.roles.includes(TEAM_LEAD), lead.roles.join());
    const promoted = await teams.makeLead(lead.id);
    assert.ok(promoted.roles.includes(TEAM_LEAD), promoted.roles.join());
    const leads = await teams.membersWithRole(TEAM_LEAD);
    assert.deepEqual(
      leads.items.map((u) => u.email),
      ['lead@host.example'],
    );
    const found = await teams.find('Plain Mem');
    assert.deepEqual(
      found.items.map((u) => u.email),
      ['member@host.example'],
    );
  });

  it('tells the host WelcomeModule of every new user, after the commit, through UsersEvents', async () => {
    const teams = app.get(TeamService);
    const welcome = app.get(WelcomeService);
    const member = await teams.addMember('welcomed@host.example', 'Welcome-passphrase-7781!', 'Welcomed Member');
    const deadline = Date.now() + 10_000;
    while (!welcome.mails().some((m) => m.userId === member.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const mails = welcome.mails().filter((m) => m.userId === member.id);
    assert.equal(mails.length, 1);
    assert.equal(mails[0].to, 'welcomed@host.example');
  });

  it('protects the host route GET /teams/:role/members with UsersAuthGuard and RolesGuard', async () => {
    const path = `/teams/${TEAM_LEAD}/members`;
    assert.equal((await call(base, 'GET', path)).status, 401);
    assert.equal((await call(base, 'GET', path, memberToken)).status, 403);
    const leadToken = await login(base, 'lead@host.example', 'Lead-passphrase-9034!');
    const asLead = await call(base, 'GET', path, leadToken);
    assert.equal(asLead.status, 200, JSON.stringify(asLead.body));
    assert.deepEqual(
      (asLead.body as { email: string; hashedPassword?: string }[]).map((u) => u.email),
      ['lead@host.example'],
    );
    assert.equal((await call(base, 'GET', path, adminToken)).status, 200);
  });

  it("leaves the host's own users table as it was", async () => {
    await withDatabase(async (db) => {
      const columns = await db.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position`);
      assert.deepEqual(
        columns.rows.map((c: { column_name: string }) => c.column_name),
        ['id', 'login'],
      );
      const rows = await db.query(`SELECT id, login FROM users ORDER BY id`);
      assert.deepEqual(rows.rows, hostRows);
    });
  });

  it('keeps the module tables under the app_ prefix', async () => {
    await withDatabase(async (db) => {
      const tables = await db.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'own\\_%' ORDER BY table_name`,
      );
      assert.deepEqual(
        tables.rows.map((t: { table_name: string }) => t.table_name),
        ['app_audit_log', 'app_files', 'app_outbox', 'app_outbox_deliveries', 'app_outbox_destinations', 'app_users', 'app_users_migrations', 'app_webhooks', 'users'],
      );
      const stored = await db.query(`SELECT email FROM app_users ORDER BY email`);
      assert.deepEqual(
        stored.rows.map((r: { email: string }) => r.email),
        ['lead@host.example', 'member@host.example', 'root@host.example', 'welcomed@host.example'],
      );
    });
  });
});
