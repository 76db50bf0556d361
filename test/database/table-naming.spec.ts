import { randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { TableNames, type TableNaming } from '../../src/database/table-names';
import { dataSourceOptions } from '../../src/users/users-data-source';
import { runUsersMigrations, usersMigrations } from '../../src/users/users-migrations';
import { UserAlreadyExistsError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { createUser, factoryPasswordHash, uniqueEmail } from '../support/user-factory';
import { MODULE_INDEXES, MODULE_TABLES } from '../support/module-indexes';

// Issue 8: a host whose database already has a `users` table of its own runs the module's
// migrations with its own DataSource, under a prefix or in a schema, and both live side by side.


// The host's own table and migration, which the module must leave alone.
class HostUsers1700000000000 implements MigrationInterface {
  name = 'HostUsers1700000000000';
  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE TABLE users (id serial PRIMARY KEY, login text NOT NULL UNIQUE, karma int NOT NULL DEFAULT 0)`);
    await db.query(`INSERT INTO users (login, karma) VALUES ('alice', 3), ('bob', 5)`);
  }
  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE users`);
  }
}

// pg_trgm already installed in a schema that is not on the search_path (as some hosted
// PostgreSQL services do): the migrations must still find its operator class.
class HostExtensions1700000001000 implements MigrationInterface {
  name = 'HostExtensions1700000001000';
  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE SCHEMA extensions`);
    await db.query(`CREATE EXTENSION pg_trgm SCHEMA extensions`);
  }
  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP SCHEMA extensions CASCADE`);
  }
}

function hostDataSource(db: TestDatabase, migrations: (new () => MigrationInterface)[] = []): DataSource {
  return new DataSource({ type: 'postgres', url: db.url, migrations, logging: false, extra: { max: 4, statement_timeout: 10000 } });
}

const names = (naming: TableNaming) => usersMigrations(naming).map((M) => new M().name);

describe.each([
  { label: 'a table prefix', naming: { tablePrefix: 'app_' }, schema: 'public', hostMigrations: [HostUsers1700000000000] },
  { label: 'a schema', naming: { schema: 'identity' }, schema: 'identity', hostMigrations: [HostUsers1700000000000, HostExtensions1700000001000] },
])('a host database with its own users table, and the module under $label', ({ naming, schema, hostMigrations }) => {
  const t = new TableNames(naming);
  const table = (name: string) => t.objectName(name);
  let db: TestDatabase;
  let host: DataSource;
  let ctx: RepositoryContext;
  let applied: string[];
  let hostUsersBefore: unknown[];

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    host = hostDataSource(db, hostMigrations);
    await host.initialize();
    await host.runMigrations();
    hostUsersBefore = await host.query(`SELECT * FROM public.users ORDER BY id`);
    applied = await runUsersMigrations(host, naming);
    ctx = await createRepositoryContext({}, { naming, database: db });
  });

  afterAll(async () => {
    await host?.destroy();
    await ctx?.close();
  });

  it('applies every migration once, recorded apart from the host migrations', async () => {
    expect(applied).toEqual(names(naming));
    await expect(host.query(`SELECT name FROM ${t.migrations} ORDER BY id`)).resolves.toEqual(applied.map((name) => ({ name })));
    await expect(host.query(`SELECT name FROM public.migrations ORDER BY id`)).resolves.toEqual(hostMigrations.map((M) => ({ name: new M().name })));
    await expect(runUsersMigrations(host, naming)).resolves.toEqual([]);
  });

  it('creates the tables, indexes and trigger under the naming', async () => {
    const indexes: { indexname: string }[] = await host.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = ANY($2::text[])`, [
      schema,
      MODULE_TABLES.map(table),
    ]);
    expect(indexes.map((r) => r.indexname).sort()).toEqual(MODULE_INDEXES.map(table).sort());
    const triggers: { tgname: string }[] = await host.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`, [t.users]);
    expect(triggers).toEqual([{ tgname: table('TRG_users_dormancy_reset') }, { tgname: table('TRG_users_rotate_token_epoch') }, { tgname: table('TRG_users_search_text') }]);
  });

  it('serves the repository from its own tables and leaves the host users table untouched', async () => {
    const email = uniqueEmail('naming');
    const created = await ctx.users.createUserWithValidation(email, 'a long enough passphrase 42', { fullName: 'Naming Person' });
    await expect(ctx.users.getUserById(created.id)).resolves.toMatchObject({ email, fullName: 'Naming Person' });
    await expect(ctx.users.partialUpdateUser(created.id, { fullName: 'Renamed Person' })).resolves.toMatchObject({ fullName: 'Renamed Person', version: 2 });
    await expect(ctx.users.createUserWithValidation(email.toUpperCase(), 'another long passphrase 43')).rejects.toBeInstanceOf(UserAlreadyExistsError);
    // A race past the early check meets the live-email index, recognised under its derived name.
    const raced = uniqueEmail('raced');
    const prepared = await ctx.users.prepareNewUser(raced, 'another long passphrase 44');
    const winner = await createUser(ctx.users, { email: raced });
    await expect(ctx.users.insertNewUser(prepared)).rejects.toBeInstanceOf(UserAlreadyExistsError);
    await ctx.users.bulkDeleteUsers([winner.id]);
    await expect(ctx.users.upsertUserReportingCreation(email, {})).resolves.toMatchObject({ created: false });
    const other = await createUser(ctx.users, { fullName: 'Renamed Twin' });
    const found = await ctx.users.searchUsersByNameOrEmail('renamed');
    expect(found.items.map((u) => u.id).sort()).toEqual([created.id, other.id].sort());

    await host.query(`INSERT INTO ${t.files} (user_id, filename, content_type, size_bytes) VALUES ($1, 'cv.pdf', 'application/pdf', 10)`, [created.id]);
    await expect(ctx.users.getUserWithFiles(created.id)).resolves.toMatchObject({ files: [{ filename: 'cv.pdf', sizeBytes: 10 }] });

    // The token epoch rotates through the prefixed trigger function.
    const epoch = async () => (await host.query<{ e: string }[]>(`SELECT token_epoch::text AS e FROM ${t.users} WHERE id = $1`, [created.id]))[0].e;
    const before = await epoch();
    await ctx.users.deactivateUser(created.id);
    expect(await epoch()).not.toBe(before);

    const importedId = randomUUID();
    const imported = await ctx.users.importUsersFromDicts(
      [
        { id: importedId, email: uniqueEmail('imported'), hashedPassword: await factoryPasswordHash() },
        { email: other.email, isActive: false },
      ],
      { onConflict: 'update' },
    );
    expect(imported.map((u) => [u.id, u.fullName, u.isActive])).toEqual([
      [importedId, null, true],
      [other.id, 'Renamed Twin', false],
    ]);
    const csv = await text(await ctx.users.exportUsersToCsv());
    expect(csv).toContain(email);
    expect(csv).not.toContain('alice');

    await ctx.users.auditLogUserChange(created.id, 'user.checked', { outcome: 'success' });
    await ctx.users.anonymizeUser(created.id);
    const audit = await ctx.users.getAuditLog(created.id);
    expect(audit.items.map((e) => e.action)).toEqual(['user.anonymized', 'user.checked']);
    await expect(host.query(`SELECT count(*)::int AS n FROM ${t.auditLog} WHERE user_id = $1`, [created.id])).resolves.toEqual([{ n: 2 }]);
    await expect(ctx.users.countUsers()).resolves.toBe(2);

    await expect(host.query(`SELECT * FROM public.users ORDER BY id`)).resolves.toEqual(hostUsersBefore);
  });
});

describe('runUsersMigrations', () => {
  const databases: TestDatabase[] = [];
  const dataSources: DataSource[] = [];

  async function open(db: TestDatabase, dataSource = hostDataSource(db)): Promise<DataSource> {
    await dataSource.initialize();
    dataSources.push(dataSource);
    return dataSource;
  }

  async function database(migrated: boolean): Promise<TestDatabase> {
    const db = await createTestDatabase({ migrated });
    databases.push(db);
    return db;
  }

  afterAll(async () => {
    for (const dataSource of dataSources) await dataSource.destroy();
    for (const db of databases) await db.drop();
  });

  it('applies each migration once when two instances boot at once, and releases its lock', async () => {
    const db = await database(false);
    const [a, b] = await Promise.all([open(db), open(db)]);
    const naming = { tablePrefix: 'app_' };
    const runs = await Promise.all([runUsersMigrations(a, naming), runUsersMigrations(b, naming)]);
    expect([...runs[0], ...runs[1]].sort()).toEqual(names(naming).sort());
    await expect(a.query(`SELECT count(*)::int AS n FROM app_users_migrations`)).resolves.toEqual([{ n: names(naming).length }]);
    await expect(
      a.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`),
    ).resolves.toEqual([{ n: 0 }]);
  });

  it('re-runs nothing on a database this app migrated through its DataSource, and adopts what it recorded', async () => {
    const db = await database(true);
    const app = await open(db, new DataSource(dataSourceOptions({ url: db.url, poolMax: 2, connectTimeoutMs: 5000, statementTimeoutMs: 10000, migrationsRun: false })));
    await expect(runUsersMigrations(app, {})).resolves.toEqual([]);
    await expect(app.query(`SELECT name FROM users_migrations ORDER BY id`)).resolves.toEqual(names({}).map((name) => ({ name })));
    await expect(app.showMigrations()).resolves.toBe(false);
  });

  it('lets a host list the migrations of several namings in its own DataSource', async () => {
    const db = await database(false);
    const host = await open(db, hostDataSource(db, [HostUsers1700000000000, ...usersMigrations({ tablePrefix: 'app_' }), ...usersMigrations({ schema: 'identity' })]));
    const ran = await host.runMigrations({ transaction: 'each' });
    expect(ran.map((m) => m.name)).toEqual(['HostUsers1700000000000', ...names({ tablePrefix: 'app_' }), ...names({ schema: 'identity' })].sort((x, y) => x.slice(-13).localeCompare(y.slice(-13))));
    const tables: { t: string | null }[] = await host.query(`SELECT to_regclass(unnest($1::text[]))::text AS t`, [['public.users', 'app_users', 'identity.users']]);
    expect(tables.map((r) => r.t)).toEqual(['users', 'app_users', 'identity.users']);
  });

  it('rolls a failing migration back, applies nothing after it, and can run again once the cause is gone', async () => {
    const db = await database(false);
    const host = await open(db);
    const naming = { tablePrefix: 'p'.repeat(28) };
    const t = new TableNames(naming);
    await host.query(`CREATE TABLE ${t.files} (id int)`);
    await expect(runUsersMigrations(host, naming)).rejects.toThrow(/already exists/);
    await expect(host.query(`SELECT to_regclass($1) AS users, (SELECT count(*)::int FROM ${t.migrations}) AS recorded`, [t.users])).resolves.toEqual([
      { users: null, recorded: 0 },
    ]);
    await host.query(`DROP TABLE ${t.files}`);
    await expect(runUsersMigrations(host, naming)).resolves.toEqual(names(naming));
    // Every derived name fits PostgreSQL's 63 bytes: none was truncated.
    const indexes: { indexname: string }[] = await host.query(`SELECT indexname FROM pg_indexes WHERE tablename = ANY($1::text[])`, [
      MODULE_TABLES.map((name) => t.objectName(name)),
    ]);
    expect(indexes.map((r) => r.indexname).sort()).toEqual(MODULE_INDEXES.map((name) => t.objectName(name)).sort());
  });
});
