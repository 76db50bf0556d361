import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Module, RequestMethod, type CanActivate, type ExecutionContext, type INestApplication, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClsPluginTransactional, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import { DataSource } from 'typeorm';
import request from 'supertest';
import { UsersBulkController } from '../../src/users/controllers/users-bulk.controller';
import { UsersQueryController } from '../../src/users/controllers/users-query.controller';
import { UsersController } from '../../src/users/controllers/users.controller';
import { UsersModule } from '../../src/users/users.module';
import { UsersRepository } from '../../src/users/users.repository';
import { uniqueEmail } from '../harness/create-test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { ADAPTERS, listenHost, sqlOn } from '../support/embedded-host';
import { MODULE_TABLES } from '../support/module-indexes';

// UsersModule embedded in hosts that register no global guard, filter or pipe of their own, on a
// fresh database that already holds an unrelated `users` table (issue 8, points 1, 2 and 4).

const SECRET = randomBytes(32).toString('hex');

// Every route of the module's user controllers, with sample parameters.
function userRoutes(prefix: string): { method: string; path: string }[] {
  const controllers: Type[] = [UsersQueryController, UsersBulkController, UsersController];
  return controllers.flatMap((controller) => {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller));
    const prototype = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(prototype)
      .filter((key) => key !== 'constructor' && Reflect.getMetadata(PATH_METADATA, prototype[key] as object) !== undefined)
      .map((key) => {
        const handler = prototype[key] as object;
        const path = [prefix, base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/');
        return { method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number], path: `/${path.replace(':id', randomUUID()).replace(':role', 'team')}` };
      });
  });
}

// A host's database before the module: its own `users` table, unrelated to ours.
async function hostDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase({ migrated: false });
  await sqlOn(database.url, `CREATE TABLE users (username text PRIMARY KEY, karma int NOT NULL); INSERT INTO users VALUES ('grace', 42)`);
  return database;
}

describe.each(ADAPTERS)('a bare host module importing UsersModule.forRoot, on %s', (adapter) => {
  let database: TestDatabase;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  const admin = { email: uniqueEmail('owner'), password: `owner-${randomBytes(8).toString('hex')}` };

  beforeAll(async () => {
    database = await hostDatabase();
    // The module owns its pool and applies its migrations; routes under /admin; the admins are 'owner'.
    @Module({
      imports: [
        UsersModule.forRoot({
          database: { url: database.url, poolMax: 4 },
          tablePrefix: 'acme_',
          routes: { prefix: 'admin' },
          adminRoles: ['owner'],
          jwt: { secret: SECRET },
          bootstrapAdmin: admin,
        }),
      ],
    })
    class HostModule {}
    app = await listenHost(HostModule, adapter);
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  const login = async (credentials: { email: string; password: string }): Promise<string> => {
    const res = await http.post('/admin/auth/login').send(credentials).expect(200);
    return (res.body as { accessToken: string }).accessToken;
  };

  it('answers 401 with its error body on every /users route without a token', async () => {
    const routes = userRoutes('admin');
    expect(routes.length).toBeGreaterThan(25);
    const answers = await Promise.all(routes.map(async (r) => [`${r.method} ${r.path}`, (await http[r.method.toLowerCase() as 'get'](r.path)).status] as const));
    expect(answers.filter(([, status]) => status !== 401)).toEqual([]);
    const res = await http.get('/admin/users').expect(401);
    expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED', requestId: expect.any(String) });
  });

  it('answers 403 on every /users route to a caller without an admin role', async () => {
    const token = await login(admin);
    const member = { email: uniqueEmail('member'), password: 'a member password 1' };
    await http.post('/admin/users').set('authorization', `Bearer ${token}`).send(member).expect(201);
    const memberToken = await login(member);
    const answers = await Promise.all(
      userRoutes('admin').map(async (r) => [`${r.method} ${r.path}`, (await http[r.method.toLowerCase() as 'get'](r.path).set('authorization', `Bearer ${memberToken}`)).status] as const),
    );
    expect(answers.filter(([, status]) => status !== 403)).toEqual([]);
  });

  it('takes CSV imports, bulk bodies, streamed exports and refuses oversized or over-deep bodies with its error body', async () => {
    const auth = { authorization: `Bearer ${await login(admin)}` };
    const csv = `email,fullName\n${uniqueEmail('csv')},Ada Csv\n${uniqueEmail('csv')},Bob Csv\n`;
    const imported = await http.post('/admin/users/import').set(auth).set('content-type', 'text/csv').send(csv).expect(201);
    expect(imported.body).toMatchObject({ count: 2, dryRun: false });
    // About 60 KB: over the small limit (8 KiB), within the bulk one.
    const bulk = { users: Array.from({ length: 300 }, (_, i) => ({ email: `bulk-${i}-${uniqueEmail('b')}`, fullName: 'n'.repeat(150) })) };
    await http.post('/admin/users/import?dryRun=true').set(auth).send(bulk).expect(201);
    const tooLarge = await http.post('/admin/users').set(auth).send({ email: uniqueEmail('big'), password: 'x'.repeat(20_000) }).expect(413);
    expect(tooLarge.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE', requestId: expect.any(String) });
    const deep = await http.patch(`/admin/users/${randomUUID()}`).set(auth).set('content-type', 'application/json').send(`{"metadata":${'['.repeat(64)}${']'.repeat(64)}}`).expect(400);
    expect(deep.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    const exported = await http.get('/admin/users/export?format=csv').set(auth).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => done(null, text));
    });
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/^text\/csv/);
    expect(String(exported.body)).toContain('Ada Csv');
  });

  it("lets a holder of adminRoles in, serves nothing outside the prefix, and keeps the host's users table", async () => {
    const token = await login(admin);
    const res = await http.get('/admin/users').set('authorization', `Bearer ${token}`).expect(200);
    expect((res.body as { items: { email: string; roles: string[] }[] }).items).toEqual(expect.arrayContaining([expect.objectContaining({ email: admin.email, roles: expect.arrayContaining(['owner']) })]));
    await http.get('/users').set('authorization', `Bearer ${token}`).expect(404);
    await expect(sqlOn(database.url, 'SELECT username, karma FROM users')).resolves.toEqual([{ username: 'grace', karma: 42 }]);
    const tables = await sqlOn<{ table_name: string }>(database.url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual([...MODULE_TABLES.map((name) => `acme_${name}`), 'acme_users_migrations', 'users'].sort());
  });
});

// The host's own authentication: a header names the caller and their roles (a stand-in for a
// session or an API gateway's identity), read by a service of the host's own module.
@Injectable()
class HostSessions {
  callerOf(headers: Record<string, string | undefined>): { id: string; roles: string[] } | undefined {
    const id = headers['x-host-user'];
    return id ? { id, roles: (headers['x-host-roles'] ?? '').split(',') } : undefined;
  }
}

@Module({ providers: [HostSessions], exports: [HostSessions] })
class HostAuthModule {}

@Injectable()
class HostHeaderGuard implements CanActivate {
  constructor(private readonly sessions: HostSessions) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    req.user = this.sessions.callerOf(req.headers);
    return req.user !== undefined;
  }
}

describe.each(ADAPTERS)("UsersModule on the host's TypeORM data source with the host's authGuard, on %s", (adapter) => {
  let database: TestDatabase;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    database = await hostDatabase();
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url }),
        // The host's own nestjs-cls and transactional plugin (default transaction host).
        ClsModule.forRoot({
          global: true,
          plugins: [new ClsPluginTransactional({ imports: [TypeOrmModule], adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: DataSource }) })],
        }),
        UsersModule.forRootAsync({
          dataSource: 'default',
          authGuard: HostHeaderGuard,
          // What the host's guard injects.
          imports: [HostAuthModule],
          useFactory: () => ({ schema: 'identity', migrationsRun: true, adminRoles: ['ops'] }),
        }),
      ],
    })
    class HostModule {}
    app = await listenHost(HostModule, adapter);
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it("authenticates with the host's guard and checks the module's admin roles", async () => {
    const res = await http.get('/users').expect(401);
    expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' });
    await http.get('/users').set({ 'x-host-user': randomUUID(), 'x-host-roles': 'user' }).expect(403);
    await http.get('/users').set({ 'x-host-user': randomUUID(), 'x-host-roles': 'ops' }).expect(200);
    const created = await http.post('/users').set({ 'x-host-user': randomUUID(), 'x-host-roles': 'ops' }).send({ email: uniqueEmail('hosted'), password: 'a hosted password 1' }).expect(201);
    expect(created.body).toMatchObject({ roles: ['user'] });
    expect(created.body).not.toHaveProperty('hashedPassword');
  });

  it("keeps the module's transactions apart from the host's own transaction host", async () => {
    const users = app.get(UsersRepository);
    const hostTx = app.get<TransactionHost<TransactionalAdapterTypeOrm>>(TransactionHost);
    const email = uniqueEmail('tx');
    await expect(
      users.dbTransaction(async () => {
        await users.createUserWithValidation(email, 'a rolled back password 1');
        // Inside the module's transaction, the host's transaction host has none of its own.
        expect(hostTx.isTransactionActive()).toBe(false);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await expect(users.isEmailUnique(email)).resolves.toBe(true);
    await hostTx.withTransaction(async () => {
      await users.createUserWithValidation(email, 'a committed password 1');
    });
    await expect(users.isEmailUnique(email)).resolves.toBe(false);
  });

  it("mounts no /auth routes (the host authenticates) and keeps the module's tables in its schema", async () => {
    await http.post('/auth/login').send({ email: 'a@example.com', password: 'whatever password' }).expect(404);
    const tables = await sqlOn<{ table_name: string }>(database.url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity' ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual([...MODULE_TABLES, 'users_migrations'].sort());
    await expect(sqlOn(database.url, 'SELECT username, karma FROM public.users')).resolves.toEqual([{ username: 'grace', karma: 42 }]);
  });
});

describe('UsersModule with routes: false (repository only)', () => {
  it('mounts no route and serves the repository to the host', async () => {
    const database = await hostDatabase();
    @Module({ imports: [UsersModule.forRoot({ database: { url: database.url }, tablePrefix: 'lib_', routes: false })] })
    class HostModule {}
    const app = await listenHost(HostModule, 'fastify');
    try {
      await request(app.getHttpServer()).get('/users').expect(404);
      const users = app.get(UsersRepository);
      const user = await users.createUserWithValidation(uniqueEmail('lib'), 'a library password 1');
      await expect(users.getUserById(user.id)).resolves.toMatchObject({ id: user.id });
      await expect(sqlOn(database.url, 'SELECT count(*)::int AS n FROM lib_users')).resolves.toEqual([{ n: 1 }]);
    } finally {
      await app.close();
      await database.drop();
    }
  });

  it('says what to change when the database already has a users table, or when its tables are missing', async () => {
    const database = await hostDatabase();
    try {
      @Module({ imports: [UsersModule.forRoot({ database: { url: database.url }, routes: false, jwt: { secret: SECRET } })] })
      class Colliding {}
      await expect(NestFactory.createApplicationContext(Colliding, { logger: false, abortOnError: false })).rejects.toThrow(/already exists.*give UsersModule a tablePrefix or a schema/);
      await expect(sqlOn(database.url, 'SELECT username, karma FROM users')).resolves.toEqual([{ username: 'grace', karma: 42 }]);
      @Module({
        imports: [
          TypeOrmModule.forRoot({ type: 'postgres', url: database.url }),
          UsersModule.forRoot({ dataSource: 'default', tablePrefix: 'none_', routes: false, jwt: { secret: SECRET } }),
        ],
      })
      class Unmigrated {}
      await expect(NestFactory.createApplicationContext(Unmigrated, { logger: false, abortOnError: false })).rejects.toThrow(/table "none_users" does not exist: set migrationsRun: true/);
    } finally {
      await database.drop();
    }
  });

  it('refuses to start without a way to authenticate its routes, naming the option', async () => {
    const database = await createTestDatabase();
    try {
      @Module({ imports: [UsersModule.forRoot({ database: { url: database.url } })] })
      class HostModule {}
      await expect(NestFactory.createApplicationContext(HostModule, { logger: false, abortOnError: false })).rejects.toThrow(/option jwt\.secret must be a string of at least 32 characters/);
    } finally {
      await database.drop();
    }
  });
});
