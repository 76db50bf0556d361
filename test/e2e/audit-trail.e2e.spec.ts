import { Logger } from '@nestjs/common';
import type * as argon2 from '@node-rs/argon2';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { Db } from '../../src/database/db.service';
import { hashPassword } from '../../src/users/password';
import { createTestApp, loginFrom, uniqueClientAddress, uniqueEmail, type TestApp } from '../harness/create-test-app';

interface AuditRow {
  user_id: string | null;
  actor_id: string | null;
  action: string;
  details: Record<string, unknown>;
}

// A test-only trigger in this file's own database: an audit INSERT of a listed action raises
// inside PostgreSQL, as a full disk or a lost connection would make it fail.
const FAILING_AUDIT = `
  CREATE TABLE test_failing_audit_actions (action text PRIMARY KEY);
  CREATE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF EXISTS (SELECT 1 FROM test_failing_audit_actions WHERE action = NEW.action) THEN
      RAISE EXCEPTION 'test: audit write refused for %', NEW.action;
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_fail_audit();`;

describe('audit trail', () => {
  let t: TestApp;
  let auth: { authorization: string };
  let sql: <T>(text: string, params?: unknown[]) => Promise<T[]>;

  beforeAll(async () => {
    t = await createTestApp();
    auth = { authorization: `Bearer ${t.adminToken}` };
    const dataSource = t.app.get(DataSource);
    sql = <T>(text: string, params: unknown[] = []) => dataSource.query<T[]>(text, params);
    await sql(FAILING_AUDIT);
  });
  afterAll(() => t.close());

  // Runs `work` while sampling the age of the oldest open transaction of the app's connections,
  // from a connection outside the app's pool (which a burst may exhaust).
  const transactionsDuring = async (work: () => Promise<unknown>): Promise<{ requestMs: number; oldestMs: number }> => {
    const observer = new Client({ connectionString: t.config.databaseUrl });
    await observer.connect();
    let oldestMs = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await observer.query<{ ms: number | null }>(
          `SELECT max(extract(epoch FROM clock_timestamp() - xact_start) * 1000)::float8 AS ms FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        oldestMs = Math.max(oldestMs, rows[0].ms ?? 0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const started = Date.now();
    try {
      await work();
    } finally {
      sampling = false;
      await sampler;
      await observer.end();
    }
    return { requestMs: Date.now() - started, oldestMs };
  };

  const rowsOfRequest = (requestId: string) => sql<AuditRow>(`SELECT user_id, actor_id, action, details FROM audit_log WHERE request_id = $1 ORDER BY id`, [requestId]);

  describe('F4: a change commits with its audit row or not at all', () => {
    const failing = async <T>(action: string, work: () => Promise<T>): Promise<T> => {
      await sql(`INSERT INTO test_failing_audit_actions VALUES ($1)`, [action]);
      try {
        return await work();
      } finally {
        await sql(`DELETE FROM test_failing_audit_actions WHERE action = $1`, [action]);
      }
    };

    it('rolls an import of 200 users back when its audit row cannot be written', async () => {
      const hashedPassword = await hashPassword('imported password 1');
      const emails = Array.from({ length: 200 }, () => uniqueEmail('f4-import'));
      const res = await failing('users.import', () => t.http.post('/users/import').set(auth).send({ users: emails.map((email) => ({ email, hashedPassword, roles: ['user'] })) }));
      expect(res.status).toBe(500);
      const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = ANY($1::text[])`, [emails]);
      expect(n).toBe(0);
      // The failure itself is audited afterwards.
      const rows = await rowsOfRequest(res.headers['x-request-id']);
      expect(rows.map((r) => [r.action, r.details.status])).toEqual([['users.import.rejected', 500]]);
    });

    it('rolls a PATCH and a role grant back when their audit rows cannot be written', async () => {
      const { user } = await t.factories.createUser({ fullName: 'Before' });
      const patch = await failing('user.update', () => t.http.patch(`/users/${user.id}`).set(auth).send({ fullName: 'After' }));
      expect(patch.status).toBe(500);
      const grant = await failing('user.role-assign', () => t.http.post(`/users/${user.id}/roles`).set(auth).send({ role: 'admin' }));
      expect(grant.status).toBe(500);
      const [row] = await sql<{ full_name: string; roles: string[]; version: number }>(`SELECT full_name, roles, version FROM users WHERE id = $1`, [user.id]);
      expect(row).toEqual({ full_name: 'Before', roles: ['user'], version: 1 });
      const after = await t.http.get(`/users/${user.id}`).set(auth).expect(200);
      expect(after.body).toMatchObject({ fullName: 'Before', roles: ['user'] });
    });

    it('rolls a bulk create back when its audit rows cannot be written', async () => {
      const emails = [uniqueEmail('f4-bulk'), uniqueEmail('f4-bulk')];
      const res = await failing('users.bulk-create', () => t.http.post('/users/bulk').set(auth).send({ users: emails.map((email) => ({ email, password: 'bulk password 1' })) }));
      expect(res.status).toBe(500);
      const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = ANY($1::text[])`, [emails]);
      expect(n).toBe(0);
    });

    it('rolls a user creation, an import with passwords and both password changes back when their audit rows cannot be written', async () => {
      const email = uniqueEmail('f4-create');
      const create = await failing('user.create', () => t.http.post('/users').set(auth).send({ email, password: 'a new password 1' }));
      expect(create.status).toBe(500);
      const imported = [uniqueEmail('f4-import-pw'), uniqueEmail('f4-import-pw')];
      const importing = await failing('users.import', () => t.http.post('/users/import').set(auth).send({ users: imported.map((e) => ({ email: e, password: 'imported password 1' })) }));
      expect(importing.status).toBe(500);
      const [{ n }] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = ANY($1::text[])`, [[email, ...imported]]);
      expect(n).toBe(0);

      const { user, password } = await t.factories.createUser();
      const token = await t.tokenFor(user, password);
      const [before] = await sql<{ hashed_password: string; version: number }>(`SELECT hashed_password, version FROM users WHERE id = $1`, [user.id]);
      const set = await failing('user.password-change', () => t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'a new password 2' }));
      expect(set.status).toBe(500);
      const own = await failing('auth.password-change', () =>
        t.http.put('/auth/password').set('authorization', `Bearer ${token}`).send({ currentPassword: password, newPassword: 'a new password 3' }),
      );
      expect(own.status).toBe(500);
      const [after] = await sql<{ hashed_password: string; version: number }>(`SELECT hashed_password, version FROM users WHERE id = $1`, [user.id]);
      expect(after).toEqual(before);
      const rejections = { 'user.create': create, 'users.import': importing, 'user.password-change': set, 'auth.password-change': own };
      for (const [action, res] of Object.entries(rejections)) {
        expect((await rowsOfRequest(res.headers['x-request-id'])).map((r) => [r.action, r.details.status])).toEqual([[`${action}.rejected`, 500]]);
      }
    });

    it('commits the success rows of these routes with their changes, naming the users', async () => {
      const created = await t.http.post('/users').set(auth).send({ email: uniqueEmail('audited-create'), password: 'a new password 1' }).expect(201);
      expect(await rowsOfRequest(created.headers['x-request-id'])).toEqual([
        expect.objectContaining({ user_id: created.body.id, actor_id: t.admin.id, action: 'user.create', details: expect.objectContaining({ outcome: 'success', fields: ['email', 'password'] }) }),
      ]);
      const { user, password } = await t.factories.createUser();
      const set = await t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'a new password 2' }).expect(204);
      expect((await rowsOfRequest(set.headers['x-request-id'])).map((r) => [r.user_id, r.action])).toEqual([[user.id, 'user.password-change']]);
      const token = await t.tokenFor(user, 'a new password 2');
      const own = await t.http.put('/auth/password').set('authorization', `Bearer ${token}`).send({ currentPassword: 'a new password 2', newPassword: password }).expect(204);
      expect((await rowsOfRequest(own.headers['x-request-id'])).map((r) => [r.user_id, r.actor_id, r.action])).toEqual([[null, user.id, 'auth.password-change']]);
      const imported = await t.http.post('/users/import').set(auth).send({ users: [{ email: uniqueEmail('audited-import'), password: 'imported password 1' }] }).expect(201);
      const [importedUser] = imported.body.users as { id: string }[];
      expect((await rowsOfRequest(imported.headers['x-request-id'])).map((r) => [r.user_id, r.action])).toEqual([[importedUser.id, 'users.import']]);
    });

    it('refuses an export whose audit row cannot be written, before sending any user', async () => {
      const { user } = await t.factories.createUser();
      const res = await failing('users.export', () => t.http.get('/users/export?format=json').set(auth));
      expect(res.status).toBe(500);
      expect(JSON.stringify(res.body)).not.toContain(user.id);
      expect((await rowsOfRequest(res.headers['x-request-id'])).map((r) => r.action)).toEqual(['users.export.rejected']);
    });

    it('hashes the passwords of a bulk create before its transaction opens', async () => {
      // 100 plaintext passwords, about 50 ms of argon2 each, hashed 4 at a time on 2 cores: the
      // request lasts at least a few hundred ms (0.9 s seen on an idle machine).
      const users = Array.from({ length: 100 }, () => ({ email: uniqueEmail('hash-first'), password: 'bulk password 1' }));
      const { requestMs, oldestMs } = await transactionsDuring(() => t.http.post('/users/bulk').set(auth).send({ users }).expect(201));
      expect(requestMs).toBeGreaterThan(400);
      expect(oldestMs).toBeLessThan(requestMs / 4);
    });

    it('runs no argon2 hash or verification inside a transaction: POST /users, PUT /users/:id/password, PUT /auth/password, import', async () => {
      // A probe on the argon2 binding that password.ts calls notes, per route, whether the request
      // had a transaction open at each hash or verification (timing alone is too noisy on a busy
      // machine to tell a transaction held across one hash from one that is not).
      const db = t.app.get(Db);
      const binding = jest.requireActual<typeof argon2>('@node-rs/argon2');
      const { hash, verify } = binding;
      let route = '';
      const outside: Record<string, number> = {};
      const inside: Record<string, number> = {};
      const note = () => {
        const tally = db.inTransaction() ? inside : outside;
        tally[route] = (tally[route] ?? 0) + 1;
      };
      const users = await Promise.all(Array.from({ length: 8 }, () => t.factories.createUser()));
      const tokens = await Promise.all(users.map(({ user, password }) => t.tokenFor(user, password)));
      // The self-service changes go first: an admin's change would retire the users' tokens.
      const bursts = {
        create: () => Promise.all(users.map(() => t.http.post('/users').set(auth).send({ email: uniqueEmail('hash-first'), password: 'a new password 1' }).expect(201))),
        ownPassword: () =>
          Promise.all(
            users.map(({ password }, i) =>
              t.http.put('/auth/password').set('authorization', `Bearer ${tokens[i]}`).send({ currentPassword: password, newPassword: 'a new password 3' }).expect(204),
            ),
          ),
        setPassword: () => Promise.all(users.map(({ user }) => t.http.put(`/users/${user.id}/password`).set(auth).send({ password: 'a new password 2' }).expect(204))),
        import: () =>
          t.http
            .post('/users/import')
            .set(auth)
            .send({ users: Array.from({ length: 10 }, () => ({ email: uniqueEmail('hash-first'), password: 'imported password 1' })) })
            .expect(201),
      };
      const spies = [
        jest.spyOn(binding, 'hash').mockImplementation((...args) => {
          note();
          return hash(...args);
        }),
        jest.spyOn(binding, 'verify').mockImplementation((...args) => {
          note();
          return verify(...args);
        }),
      ];
      try {
        for (const [name, burst] of Object.entries(bursts)) {
          route = name;
          await burst();
        }
      } finally {
        spies.forEach((spy) => spy.mockRestore());
      }
      expect(inside).toEqual({});
      expect(Object.keys(outside)).toEqual(Object.keys(bursts));
    });

    it('hashes the passwords of an import before its transaction locks the active admins', async () => {
      const users = Array.from({ length: 40 }, () => ({ email: uniqueEmail('hash-first'), password: 'imported password 1' }));
      const { requestMs, oldestMs } = await transactionsDuring(() => t.http.post('/users/import').set(auth).send({ users }).expect(201));
      expect(oldestMs).toBeLessThan(requestMs / 4);
    });
  });

  describe('12: privilege changes name their targets and fields', () => {
    const actionsOn = async (userId: string) => {
      const res = await t.http.get(`/users/${userId}/audit-log?limit=100`).set(auth).expect(200);
      return res.body.items as { action: string; actorId: string; details: { fields?: string[]; targetIds?: string[] } }[];
    };

    it('shows a role granted through an import (JSON update and CSV) on the user', async () => {
      const { user } = await t.factories.createUser();
      await t.http.post('/users/import?onConflict=update').set(auth).send({ users: [{ email: user.email, roles: ['user', 'admin'] }] }).expect(201);
      expect(await actionsOn(user.id)).toContainEqual(
        expect.objectContaining({ action: 'users.import', actorId: t.admin.id, details: expect.objectContaining({ targetIds: [user.id], fields: ['email', 'roles'] }) }),
      );
      const csvEmail = uniqueEmail('csv-admin');
      const csv = await t.http.post('/users/import').set(auth).set('content-type', 'text/csv').send(`email,roles\n${csvEmail},"[""admin""]"\n`).expect(201);
      const created = csv.body.users[0] as { id: string; roles: string[] };
      expect(created.roles).toEqual(['admin']);
      expect(await actionsOn(created.id)).toEqual([expect.objectContaining({ action: 'users.import', details: expect.objectContaining({ targetIds: [created.id], fields: ['email', 'roles'] }) })]);
    });

    it('shows a role granted through an upsert (defaults.roles counts as roles) on the user', async () => {
      const { user } = await t.factories.createUser();
      await t.http.put('/users/upsert').set(auth).send({ email: user.email, defaults: { roles: ['admin'] } }).expect(200);
      expect((await actionsOn(user.id))[0]).toMatchObject({ action: 'user.upsert', details: { targetIds: [user.id], fields: ['email', 'roles'] } });
    });

    it('shows every user of a bulk create, each on its own page, with the union of the fields', async () => {
      const res = await t.http
        .post('/users/bulk')
        .set(auth)
        .send({ users: [{ email: uniqueEmail('b'), password: 'bulk password 1', roles: ['admin'] }, { email: uniqueEmail('b'), password: 'bulk password 1', fullName: 'B' }] })
        .expect(201);
      for (const { id } of res.body as { id: string }[]) {
        expect(await actionsOn(id)).toEqual([
          expect.objectContaining({ action: 'users.bulk-create', details: expect.objectContaining({ targetIds: [id], count: 2, fields: ['email', 'password', 'roles', 'fullName'] }) }),
        ]);
      }
    });
  });

  describe('13: security events', () => {
    it('audits logins with the account and the client address, never the email', async () => {
      const { user, password } = await t.factories.createUser();
      const address = uniqueClientAddress();
      const ok = await loginFrom(t.app, address, { email: user.email, password });
      expect(ok.statusCode).toBe(200);
      const wrong = await loginFrom(t.app, address, { email: user.email, password: 'not the password' });
      expect(wrong.statusCode).toBe(401);
      const unknown = await loginFrom(t.app, address, { email: uniqueEmail('nobody'), password: 'whatever pw' });
      expect(unknown.statusCode).toBe(401);

      expect(await rowsOfRequest(ok.headers['x-request-id'] as string)).toEqual([
        { user_id: user.id, actor_id: user.id, action: 'auth.login', details: { outcome: 'success', targetIds: [user.id], clientAddress: address } },
      ]);
      const [rejected] = await rowsOfRequest(wrong.headers['x-request-id'] as string);
      expect(rejected).toMatchObject({ user_id: user.id, action: 'auth.login.rejected', details: { status: 401, errorCode: 'UNAUTHENTICATED', clientAddress: address } });
      const [stranger] = await rowsOfRequest(unknown.headers['x-request-id'] as string);
      expect(stranger).toMatchObject({ user_id: null, action: 'auth.login.rejected', details: { status: 401, clientAddress: address } });
      const [{ text }] = await sql<{ text: string }>(`SELECT string_agg(details::text, ' ') AS text FROM audit_log WHERE action LIKE 'auth.login%'`);
      expect(text).not.toContain('@');
      expect(text).not.toContain(password);
    });

    it('logs a warning for every 401 and 403, on read routes too', async () => {
      const { user, password } = await t.factories.createUser();
      const token = await t.tokenFor(user, password);
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        const anonymous = await t.http.get(`/users/${user.id}`).expect(401);
        const forbidden = await t.http.get(`/users/${user.id}`).set('authorization', `Bearer ${token}`).expect(403);
        const lines = warn.mock.calls.map(([line]) => line as Record<string, unknown>);
        expect(lines).toContainEqual({
          requestId: anonymous.headers['x-request-id'],
          method: 'GET',
          route: '/users/:id',
          status: 401,
          code: 'UNAUTHENTICATED',
          actorId: null,
          clientAddress: '127.0.0.1',
        });
        expect(lines).toContainEqual(expect.objectContaining({ requestId: forbidden.headers['x-request-id'], status: 403, code: 'FORBIDDEN', actorId: user.id }));
      } finally {
        warn.mockRestore();
      }
    });
  });
});

describe('audit of streamed exports under pool pressure', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Two connections for eight exports large enough (a few MB) that a COPY holds its connection
    // until the client has read it.
    t = await createTestApp({ databasePoolMax: 2, databaseConnectTimeoutMs: 1500 });
    await t.app.get(DataSource).query(
      `INSERT INTO users (email, email_normalized, full_name, hashed_password)
       SELECT 'bulk' || g || '@example.com', 'bulk' || g || '@example.com', repeat('x', 100), 'unusable' FROM generate_series(1, 20000) g`,
    );
  });
  afterAll(() => t.close());

  it('sends no export without its committed audit row; refused ones are answered 503', async () => {
    const replies = await Promise.all(Array.from({ length: 8 }, () => t.http.get('/users/export?format=csv').set('authorization', `Bearer ${t.adminToken}`).buffer(true)));
    const sent = replies.filter((r) => r.status === 200);
    expect(replies.map((r) => r.status).filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(sent.length).toBeGreaterThan(0);
    for (const reply of sent) expect(reply.text.length).toBeGreaterThan(2_000_000);
    const rows: { request_id: string }[] = await t.app.get(DataSource).query(`SELECT request_id FROM audit_log WHERE action = 'users.export'`);
    expect(rows.map((r) => r.request_id).sort()).toEqual(sent.map((r) => r.headers['x-request-id']).sort());
  });
});
