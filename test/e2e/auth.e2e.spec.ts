import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, UseFilters, UseGuards } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { appDataSource, appUsersModule } from '../../src/app.module';
import { AppConfigModule } from '../../src/config/app-config.module';
import { ErrorsFilter } from '../../src/errors/errors.filter';
import { RolesGuard } from '../../src/users/auth/roles.guard';
import { UsersAuthGuard } from '../../src/users/auth/users-auth.guard';
import { AdminBootstrap } from '../../src/users/auth/admin-bootstrap.service';
import { createAdmin } from '../../src/cli/admin-cli';
import { JWT_SECRET_FILE } from '../../src/config/jwt-secret';
import { Roles } from '../../src/users/auth/roles.decorator';
import { NoThrottle } from '../../src/throttling/throttling.decorators';
import { hashPassword } from '../../src/users/password';
import { UsersRepository } from '../../src/users/users.repository';
import { createTestApp, loginFrom, uniqueClientAddress, uniqueEmail, type LoginReply, type TestApp } from '../harness/create-test-app';

const UNAUTHENTICATED = { statusCode: 401, code: 'UNAUTHENTICATED' };

function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('auth (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  describe('POST /auth/login', () => {
    it('issues an HS256 bearer token carrying the user id, version and roles, and records the login', async () => {
      const { user, password } = await t.factories.createUser({ roles: ['user', 'support'] });
      const response = await t.http.post('/auth/login').send({ email: user.email, password }).expect(200);

      expect(response.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: t.config.jwtExpiresInSeconds });
      const token = (response.body as { accessToken: string }).accessToken;
      expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'))).toMatchObject({ alg: 'HS256' });
      expect(decodeClaims(token)).toMatchObject({ sub: user.id, ver: user.version, roles: ['user', 'support'] });
      const after = await t.users.getUserById(user.id);
      expect(after?.lastLoginAt).toBeInstanceOf(Date);
      expect(after?.version).toBe(user.version);
    });

    it('accepts the email in another case and with surrounding spaces', async () => {
      const { user, password } = await t.factories.createUser();
      const response = await t.http.post('/auth/login').send({ email: `  ${user.email.toUpperCase()} `, password }).expect(200);
      expect(decodeClaims((response.body as { accessToken: string }).accessToken).sub).toBe(user.id);
    });

    it('answers every kind of failure with the same 401 body', async () => {
      const wrong = await t.factories.createUser();
      const inactive = await t.factories.createUser({ isActive: false });
      const deleted = await t.factories.createUser();
      await t.users.softDeleteUser(deleted.user.id);
      const anonymized = await t.factories.createUser();
      await t.users.anonymizeUser(anonymized.user.id);

      const attempts = [
        { email: uniqueEmail('nobody'), password: 'factory-password' },
        { email: wrong.user.email, password: 'not-the-password' },
        { email: inactive.user.email, password: inactive.password },
        { email: deleted.user.email, password: deleted.password },
        { email: anonymized.user.email, password: anonymized.password },
      ];
      const bodies: unknown[] = [];
      for (const attempt of attempts) {
        const response = await t.http.post('/auth/login').send(attempt).expect(401);
        const { requestId, ...rest } = response.body as { requestId: string };
        expect(requestId).toEqual(expect.any(String));
        bodies.push(rest);
      }
      expect(bodies[0]).toEqual({ ...UNAUTHENTICATED, message: 'Invalid email or password' });
      for (const body of bodies) expect(body).toEqual(bodies[0]);
    });

    it('does not touch lastLoginAt on a failed login', async () => {
      const { user } = await t.factories.createUser();
      await t.http.post('/auth/login').send({ email: user.email, password: 'not-the-password' }).expect(401);
      expect((await t.users.getUserById(user.id))?.lastLoginAt).toBeNull();
    });
  });

  describe('GET /auth/me', () => {
    it('returns the caller without any password hash', async () => {
      const { user } = await t.factories.createUser({ fullName: 'Ada Lovelace' });
      const token = await t.tokenFor(user);
      const response = await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(200);

      expect(response.body).toMatchObject({ id: user.id, email: user.email, fullName: 'Ada Lovelace', roles: ['user'] });
      expect(JSON.stringify(response.body)).not.toMatch(/argon2|hashedPassword|hashed_password/);
    });

    it('answers 401 without a token, with a malformed one, a foreign signature or an expired one', async () => {
      const jwt = t.app.get(JwtService);
      const claims = { sub: t.admin.id, ver: t.admin.version, roles: t.admin.roles };
      const tokens = [
        undefined,
        'Bearer',
        'Bearer not.a.token',
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        `Bearer ${new JwtService({ secret: 'another-secret-another-secret-another' }).sign(claims)}`,
        `Bearer ${jwt.sign(claims, { expiresIn: -60 })}`,
        `Bearer ${jwt.sign({ sub: t.admin.id })}`,
      ];
      for (const authorization of tokens) {
        const call = t.http.get('/auth/me');
        const response = await (authorization === undefined ? call : call.set('Authorization', authorization)).expect(401);
        expect(response.body).toMatchObject(UNAUTHENTICATED);
      }
    });

    it('refuses a token signed with the "none" algorithm', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify({ sub: t.admin.id, ver: t.admin.version, roles: ['admin'] })).toString('base64url');
      const response = await t.http.get('/auth/me').set('Authorization', `Bearer ${header}.${payload}.`).expect(401);
      expect(response.body).toMatchObject(UNAUTHENTICATED);
    });
  });

  describe('token retirement', () => {
    async function loggedIn() {
      const created = await t.factories.createUser();
      const token = await t.tokenFor(created.user);
      await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(200);
      return { ...created, token };
    }

    const expectRetired = async (token: string) => {
      const response = await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
      expect(response.body).toMatchObject(UNAUTHENTICATED);
    };

    it('retires tokens after deactivation', async () => {
      const { user, token } = await loggedIn();
      await t.users.deactivateUser(user.id);
      await expectRetired(token);
    });

    it('retires tokens after a soft delete', async () => {
      const { user, token } = await loggedIn();
      await t.users.softDeleteUser(user.id);
      await expectRetired(token);
    });

    it('retires tokens after anonymization', async () => {
      const { user, token } = await loggedIn();
      await t.users.anonymizeUser(user.id);
      await expectRetired(token);
    });

    it('retires tokens after a role change', async () => {
      const { user, token } = await loggedIn();
      await t.users.assignRoleToUser(user.id, 'support');
      await expectRetired(token);
    });

    it('retires tokens after an administrative password change', async () => {
      const { user, token } = await loggedIn();
      await t.users.changeUserPassword(user.id, await hashPassword('brand-new-password'));
      await expectRetired(token);
    });

    it('never revives a token of a hard-deleted user whose exported row is imported again with the same id', async () => {
      const { user, token } = await loggedIn();
      const admin = `Bearer ${t.adminToken}`;
      const exported = await t.http.get('/users/export?format=json').set('Authorization', admin).expect(200);
      const row = (JSON.parse(exported.text) as { id: string; version: number }[]).find((r) => r.id === user.id);
      expect(row).toMatchObject({ id: user.id, version: 1 });
      expect(row).not.toHaveProperty('tokenEpoch');
      const shown = await t.http.get(`/users/${user.id}`).set('Authorization', admin).expect(200);
      expect(shown.body).not.toHaveProperty('tokenEpoch');
      expect(await t.users.getUserById(user.id)).not.toHaveProperty('tokenEpoch');
      await t.http.post('/users/bulk-delete').set('Authorization', admin).send({ ids: [user.id] }).expect(204);
      await expectRetired(token);

      // The same id, version 1 again, now with the admin role: the old token must stay dead.
      const imported = await t.http
        .post('/users/import')
        .set('Authorization', admin)
        .send({ users: [{ ...row, roles: ['user', 'admin'] }] })
        .expect(201);
      expect(imported.body).toMatchObject({ users: [{ id: user.id, version: 1 }] });
      await expectRetired(token);
      await t.http.get('/users').set('Authorization', `Bearer ${token}`).expect(401);
    });
  });

  describe('POST /auth/logout', () => {
    it("ends every token of the caller, and only the caller's, without changing the user", async () => {
      const { user, password } = await t.factories.createUser();
      const first = await t.tokenFor(user, password);
      const second = await t.tokenFor(user, password);
      const other = await t.factories.createUser();
      const otherToken = await t.tokenFor(other.user, other.password);

      await t.http.post('/auth/logout').set('Authorization', `Bearer ${first}`).expect(204);
      for (const token of [first, second]) {
        const response = await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
        expect(response.body).toMatchObject(UNAUTHENTICATED);
      }
      await t.http.post('/auth/logout').set('Authorization', `Bearer ${second}`).expect(401);
      await t.http.get('/auth/me').set('Authorization', `Bearer ${otherToken}`).expect(200);
      expect((await t.users.getUserById(user.id))?.version).toBe(user.version);

      // Logging in again works, and the new token is not ended by the earlier logout.
      const fresh = await t.tokenFor(user, password);
      await t.http.get('/auth/me').set('Authorization', `Bearer ${fresh}`).expect(200);
    });

    it('needs a token', async () => {
      const response = await t.http.post('/auth/logout').expect(401);
      expect(response.body).toMatchObject(UNAUTHENTICATED);
    });
  });

  describe('PUT /auth/password', () => {
    it('changes the password, retires every earlier token and accepts only the new password', async () => {
      const { user, password } = await t.factories.createUser();
      const first = await t.tokenFor(user);
      const second = await t.tokenFor(user);
      await t.http
        .put('/auth/password')
        .set('Authorization', `Bearer ${first}`)
        .send({ currentPassword: password, newPassword: 'a-new-password-1' })
        .expect(204);

      await t.http.get('/auth/me').set('Authorization', `Bearer ${first}`).expect(401);
      await t.http.get('/auth/me').set('Authorization', `Bearer ${second}`).expect(401);
      await t.http.post('/auth/login').send({ email: user.email, password }).expect(401);
      const fresh = await t.tokenFor(user, 'a-new-password-1');
      const me = await t.http.get('/auth/me').set('Authorization', `Bearer ${fresh}`).expect(200);
      expect(me.body).toMatchObject({ id: user.id, version: user.version + 1 });
    });

    it('lets exactly one of two concurrent changes with the same current password win', async () => {
      for (let round = 0; round < 4; round += 1) {
        const { user, password } = await t.factories.createUser();
        const token = await t.tokenFor(user);
        const candidates = [`first new password ${round}`, `second new password ${round}`];
        const responses = await Promise.all(
          candidates.map((newPassword) =>
            t.http.put('/auth/password').set('Authorization', `Bearer ${token}`).send({ currentPassword: password, newPassword }),
          ),
        );
        expect(responses.map((r) => r.status).sort()).toEqual([204, 400]);
        const loser = responses.find((r) => r.status === 400)!;
        expect(loser.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'currentPassword' }] });
        const winner = candidates[responses.findIndex((r) => r.status === 204)];
        const logins = await Promise.all(
          [winner, ...candidates.filter((c) => c !== winner), password].map((p) => t.http.post('/auth/login').send({ email: user.email, password: p })),
        );
        expect(logins.map((r) => r.status)).toEqual([200, 401, 401]);
      }
    });

    it('rejects a wrong current password with 400 and changes nothing', async () => {
      const { user, password } = await t.factories.createUser();
      const token = await t.tokenFor(user);
      const response = await t.http
        .put('/auth/password')
        .set('Authorization', `Bearer ${token}`)
        .send({ currentPassword: 'not-the-password', newPassword: 'a-new-password-1' })
        .expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
      await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(200);
      await t.tokenFor(user, password);
    });

    it('rejects a new password outside 8..128 characters and unknown fields', async () => {
      const { user, password } = await t.factories.createUser();
      const token = await t.tokenFor(user);
      for (const body of [
        { currentPassword: password, newPassword: 'short' },
        { currentPassword: password, newPassword: 'x'.repeat(129) },
        { currentPassword: password, newPassword: 'a-new-password-1', isAdmin: true },
      ]) {
        const response = await t.http.put('/auth/password').set('Authorization', `Bearer ${token}`).send(body).expect(400);
        expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
      }
    });

    it('needs a token', async () => {
      const response = await t.http.put('/auth/password').send({ currentPassword: 'whatever-1', newPassword: 'whatever-2' }).expect(401);
      expect(response.body).toMatchObject(UNAUTHENTICATED);
    });
  });

  describe('roles', () => {
    // A host's own controller protected by the module's guards.
    @UseFilters(ErrorsFilter)
    @UseGuards(UsersAuthGuard, RolesGuard)
    @Controller('probe')
    class ProbeController {
      @Get('admin')
      @Roles('admin')
      @NoThrottle()
      adminOnly() {
        return { ok: true };
      }

      @Get('any')
      @Roles()
      @NoThrottle()
      anyCaller() {
        return { ok: true };
      }

      @Get('undeclared')
      @NoThrottle()
      undeclared() {
        return { ok: true };
      }
    }

    let probe: NestFastifyApplication;

    // A host of UsersModule (no routes of its own) with a probe controller, on the same database
    // and secret as the harness app, so its tokens work here.
    beforeAll(async () => {
      const config = { ...t.config, adminEmail: undefined, adminPassword: undefined };
      const moduleRef = await Test.createTestingModule({
        imports: [AppConfigModule.forRoot(config), appDataSource(), appUsersModule({ routes: false })],
        controllers: [ProbeController],
      }).compile();
      probe = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
      await probe.init();
      await probe.getHttpAdapter().getInstance().ready();
    });

    afterAll(async () => {
      await probe.close();
    });

    it('lets an admin through a route declared @Roles("admin") and refuses other users with 403', async () => {
      const { user } = await t.factories.createUser();
      const userToken = await t.tokenFor(user);
      await request(probe.getHttpServer()).get('/probe/admin').set('Authorization', `Bearer ${t.adminToken}`).expect(200);
      const response = await request(probe.getHttpServer()).get('/probe/admin').set('Authorization', `Bearer ${userToken}`).expect(403);
      expect(response.body).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
      await request(probe.getHttpServer()).get('/probe/any').set('Authorization', `Bearer ${userToken}`).expect(200);
    });

    it('checks the token before the role: no token is 401, not 403', async () => {
      const response = await request(probe.getHttpServer()).get('/probe/admin').expect(401);
      expect(response.body).toMatchObject(UNAUTHENTICATED);
    });

    it('refuses a route that declares no roles, even to an admin', async () => {
      const response = await request(probe.getHttpServer()).get('/probe/undeclared').set('Authorization', `Bearer ${t.adminToken}`).expect(403);
      expect(response.body).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
    });

    it('uses the current roles: a demoted admin loses access at once', async () => {
      const { user } = await t.factories.createUser({ roles: ['user', 'admin'] });
      const token = await t.tokenFor(user);
      await request(probe.getHttpServer()).get('/probe/admin').set('Authorization', `Bearer ${token}`).expect(200);
      // Through the probe's own repository: each app instance here has its own in-memory cache.
      await probe.get(UsersRepository).revokeRoleFromUser(user.id, 'admin');
      await request(probe.getHttpServer()).get('/probe/admin').set('Authorization', `Bearer ${token}`).expect(401);
      const demoted = await t.tokenFor(user);
      await request(probe.getHttpServer()).get('/probe/admin').set('Authorization', `Bearer ${demoted}`).expect(403);
    });
  });

  describe('admin bootstrap', () => {
    it('created the configured admin at startup with the admin role', () => {
      expect(t.admin.email).toBe(t.config.adminEmail);
      expect(t.admin.roles).toContain('admin');
    });

    it('is idempotent and never resets an existing admin password', async () => {
      const bootstrap = t.app.get(AdminBootstrap);
      await bootstrap.onApplicationBootstrap();
      const again = await bootstrap.ensureAdmin(t.admin.email, 'another-password-1');

      expect(again).toMatchObject({ outcome: 'unchanged', user: { id: t.admin.id } });
      await t.tokenFor(t.admin, t.config.adminPassword);
      await t.http.post('/auth/login').send({ email: t.admin.email, password: 'another-password-1' }).expect(401);
      expect(await t.users.countUsers(undefined, { withDeleted: true })).toBeGreaterThan(0);
      expect((await t.users.searchUsersByNameOrEmail(t.admin.email)).total).toBe(1);
    });

    it('promotes an existing user without touching the password', async () => {
      const { user, password } = await t.factories.createUser();
      const result = await t.app.get(AdminBootstrap).ensureAdmin(user.email, 'ignored-password-1');

      expect(result.outcome).toBe('promoted');
      expect(result.user.roles).toEqual(expect.arrayContaining(['user', 'admin']));
      await t.tokenFor(user, password);
    });

    it('admin:create creates the admin once, then reports it unchanged', async () => {
      const email = uniqueEmail('cli-admin');
      await expect(createAdmin(t.config, email, 'cli-password-1')).resolves.toMatch(new RegExp(`^admin ${email} \\([0-9a-f-]{36}\\): created$`));
      await expect(createAdmin(t.config, email, 'other-password-1')).resolves.toMatch(/: unchanged$/);
      const credentials = await t.users.getCredentialsByEmail(email);
      expect(credentials?.roles).toContain('admin');
      await t.tokenFor({ id: credentials!.id, email }, 'cli-password-1');
    });

    it('admin:create refuses a password that breaks the policy', async () => {
      await expect(createAdmin(t.config, uniqueEmail('cli-admin'), 'short')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });
});

describe('auth rate limits (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      throttleLoginAccountFailures: 3,
      throttleLoginAddress: 5,
      throttleWindowMs: 60_000,
      throttleSensitive: { 'password-change': 2, anonymize: 100, export: 100, import: 100, 'bulk-delete': 100 },
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('locks an account after its failure budget, even for the right password, with Retry-After', async () => {
    const { user, password } = await t.factories.createUser();
    const other = await t.factories.createUser();
    for (let i = 0; i < 3; i += 1) {
      const response = await loginFrom(t.app, uniqueClientAddress(), { email: user.email, password: 'not-the-password' });
      expect(response.statusCode).toBe(401);
    }
    const locked = await loginFrom(t.app, uniqueClientAddress(), { email: user.email.toUpperCase(), password });
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60);

    const unaffected = await loginFrom(t.app, uniqueClientAddress(), { email: other.user.email, password: other.password });
    expect(unaffected.statusCode).toBe(200);
  });

  it('does not spend the account budget on successful logins', async () => {
    const { user, password } = await t.factories.createUser();
    const bad = { email: user.email, password: 'not-the-password' };
    const good = { email: user.email, password };
    const statuses: number[] = [];
    for (const body of [bad, bad, good, good, good, good, bad, good]) {
      statuses.push((await loginFrom(t.app, uniqueClientAddress(), body)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 200, 200, 200, 200, 401, 429]);
  });

  it('locks unknown addresses just like known ones, so a lock reveals nothing', async () => {
    const email = uniqueEmail('nobody');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await loginFrom(t.app, uniqueClientAddress(), { email, password: 'whatever-1' })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('counts every attempt per client address, and rotating X-Forwarded-For does not reset it', async () => {
    const address = uniqueClientAddress();
    const { user, password } = await t.factories.createUser();
    const replies: LoginReply[] = [];
    for (let i = 0; i < 6; i += 1) {
      replies.push(await loginFrom(t.app, address, { email: user.email, password }, { 'x-forwarded-for': uniqueClientAddress() }));
    }
    expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(replies[5].headers['retry-after']).toMatch(/^\d+$/);

    const elsewhere = await loginFrom(t.app, uniqueClientAddress(), { email: user.email, password });
    expect(elsewhere.statusCode).toBe(200);
  });

  it('counts attempts that validation rejects against the address too', async () => {
    const address = uniqueClientAddress();
    const { user, password } = await t.factories.createUser();
    const invalid = [{ email: 42, password }, { email: user.email }, { email: user.email, password, extra: 1 }, {}, { email: [user.email], password }];
    const statuses: number[] = [];
    for (const body of invalid) statuses.push((await loginFrom(t.app, address, body)).statusCode);
    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    const next = await loginFrom(t.app, address, { email: user.email, password });
    expect(next.statusCode).toBe(429);
    expect(next.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('limits password changes per account, counting each change once', async () => {
    const { user } = await t.factories.createUser({ password: 'password-0' });
    const responses: request.Response[] = [];
    for (let i = 0; i < 3; i += 1) {
      const token = await t.tokenFor(user, `password-${i}`);
      responses.push(
        await t.http
          .put('/auth/password')
          .set('Authorization', `Bearer ${token}`)
          .send({ currentPassword: `password-${i}`, newPassword: `password-${i + 1}` }),
      );
    }
    expect(responses.map((r) => r.status)).toEqual([204, 204, 429]);
    expect(responses[2].headers['retry-after']).toMatch(/^\d+$/);
  });
});

describe('JWT secret without JWT_SECRET (e2e)', () => {
  it('generates a secret file once (mode 0600) and a second instance reuses it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nest-users-jwt-'));
    const first = await createTestApp({ jwtSecret: undefined, dataDir });
    try {
      const path = join(dataDir, JWT_SECRET_FILE);
      const secret = readFileSync(path, 'utf8');
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect(statSync(path).mode & 0o777).toBe(0o600);

      const second = await createApp(first.config);
      try {
        await second.getHttpAdapter().getInstance().ready();
        expect(readFileSync(path, 'utf8')).toBe(secret);
        await request(second.getHttpServer()).get('/auth/me').set('Authorization', `Bearer ${first.adminToken}`).expect(200);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });
});
