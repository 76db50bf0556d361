import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AuditLog } from '../../src/audit/audit-log.service';
import { ErrorCode } from '../../src/errors/domain-error';
import { hashPassword } from '../../src/users/password';
import { UserCache } from '../../src/users/user-cache.service';
import { UsersRepository } from '../../src/users/users.repository';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { modulePool, quietPool } from '../support/sql-capture';
import { captureSentStatements, normalizeSql, paramShape, type SentStatement } from '../support/statement-capture';
import { createUser, factoryPasswordHash, seedUsers, uniqueEmail } from '../support/user-factory';

// Every statement UsersRepository sends, one case per public method (more where the SQL depends
// on the arguments), written to test/sql/users.sql: a query change shows as a diff in review,
// and CI fails when the file changed without being committed (.ci/run).
const SNAPSHOT = join(__dirname, 'users.sql');

// Public methods that send no SQL of their own, so they have no case.
const EXCLUDED: Record<string, string> = {
  noteAuditSubject: 'notes the audit subject in the request context; no SQL',
  sensitiveUserAction: "counts in the throttler's storage (Redis or memory); no SQL",
};

// A user id that never exists.
const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const PASSWORD = 'correct horse battery staple';

type Method = Exclude<keyof UsersRepository, 'constructor'>;

interface SqlCase {
  method: Method;
  // The arguments, described (never values: ids and emails are random per run).
  args: string;
  // Runs before the capture: preparation sends no statement into the snapshot.
  prepare: () => Promise<unknown>;
  run: (input: unknown) => Promise<unknown>;
  // The error code the call is expected to fail with.
  rejects?: ErrorCode;
  // Runs once, right after the call's first statement is sent: what another request does meanwhile.
  meanwhile?: () => void;
}

function sqlCase<T>(
  method: Method,
  args: string,
  prepare: () => Promise<T>,
  run: (input: T) => Promise<unknown>,
  extra: Pick<SqlCase, 'rejects' | 'meanwhile'> = {},
): SqlCase {
  return { method, args, prepare, run: (input) => run(input as T), ...extra };
}

const none = async (): Promise<undefined> => undefined;

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

// Public methods of the facade: its own and the ones it serves from the concern classes.
function repositoryMethods(): string[] {
  return Object.getOwnPropertyNames(UsersRepository.prototype).filter((name) => name !== 'constructor');
}

// A domain error as its code; anything else as its stack, so that an unexpected failure shows.
function failure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function renderCase(c: SqlCase, statements: SentStatement[]): string {
  const lines = [`-- UsersRepository.${c.method}(${c.args})`];
  if (c.rejects) lines.push(`-- rejects with ${c.rejects}`);
  if (statements.length === 0) lines.push('-- (no SQL)');
  for (const statement of statements) {
    lines.push('');
    if (statement.name) lines.push(`-- prepared statement ${statement.name}`);
    if (statement.values.length) lines.push(`-- params: ${statement.values.map((v, i) => `$${i + 1} ${paramShape(v)}`).join(', ')}`);
    lines.push(normalizeSql(statement.text));
  }
  return lines.join('\n');
}

describe('SQL snapshot of UsersRepository (test/sql/users.sql)', () => {
  let ctx: RepositoryContext;
  let users: UsersRepository;

  beforeAll(async () => {
    // The in-process cache whatever the run has: with Redis every cache fill is re-checked, and
    // the file must not depend on the environment (the re-check has a case of its own).
    ctx = await createRepositoryContext({ redisUrl: undefined }, { settings: { events: { relay: false } } });
    users = ctx.users;
    await seedUsers(ctx, 30, { roles: ['user', 'admin'], metadata: { plan: 'pro' } });
    await seedUsers(ctx, 5, { isActive: false, deleted: true });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  function cases(): SqlCase[] {
    const user = (overrides: Parameters<typeof createUser>[1] = {}) => createUser(users, overrides);
    const id = async () => (await user()).id;
    const cache = () => ctx.module.get(UserCache, { strict: false });
    const audit = () => ctx.module.get(AuditLog, { strict: false });
    const importRow = async (email = uniqueEmail('import')) => ({ email, hashedPassword: await factoryPasswordHash(), fullName: 'Imported User' });
    return [
      // Reads
      sqlCase('getUserById', 'id of a live user; cache miss', id, (userId) => users.getUserById(userId)),
      sqlCase('getUserById', 'id of a live user; cache miss, and a write invalidated the cache meanwhile', id, (userId) => users.getUserById(userId), {
        meanwhile: () => void cache().delete([MISSING_ID]),
      }),
      sqlCase(
        'getUserById',
        'id of a live user; cache hit',
        async () => {
          const userId = await id();
          await users.getUserById(userId);
          return userId;
        },
        (userId) => users.getUserById(userId),
      ),
      sqlCase('getUserById', 'id of a soft-deleted user, { withDeleted: true }', async () => (await users.softDeleteUser(await id())).id, (userId) =>
        users.getUserById(userId, { withDeleted: true }),
      ),
      sqlCase('safeGetUserById', 'id of no user', none, () => users.safeGetUserById(MISSING_ID), { rejects: ErrorCode.USER_NOT_FOUND }),
      sqlCase('userExists', 'id of a live user', id, (userId) => users.userExists(userId)),
      sqlCase('getUsersByIds', 'three ids', () => Promise.all([id(), id(), id()]), (ids) => users.getUsersByIds(ids)),
      sqlCase('listUsersPaginated', 'offset 10, limit 10', none, () => users.listUsersPaginated(10, 10)),
      sqlCase('listUsersPaginated', 'offset 0, limit 10, { withDeleted: true }', none, () => users.listUsersPaginated(0, 10, { withDeleted: true })),
      sqlCase('listUsersAfter', 'no cursor, limit 10', none, () => users.listUsersAfter(null, 10)),
      // The bench measures this one (its keyset pages replay the statements captured here).
      sqlCase(
        'listUsersAfter',
        "the first page's cursor, limit 10",
        async () => (await users.listUsersAfter(null, 10)).nextCursor,
        (cursor) => users.listUsersAfter(cursor, 10),
      ),
      sqlCase(
        'listUsersAfter',
        "the first page's cursor, limit 10, { withDeleted: true }",
        async () => (await users.listUsersAfter(null, 10)).nextCursor,
        (cursor) => users.listUsersAfter(cursor, 10, { withDeleted: true }),
      ),
      sqlCase('listDormantUsers', '{ inactiveForDays: 90, limit: 10 }', none, () => users.listDormantUsers({ inactiveForDays: 90, limit: 10 })),
      sqlCase(
        'listDormantUsers',
        "{ inactiveForDays: 90, after: the first page's cursor, limit: 10 }",
        async () => {
          await seedUsers(ctx, 15, { createdAtSql: `now() - interval '100 days'` });
          return (await users.listDormantUsers({ inactiveForDays: 90, limit: 10 })).nextCursor;
        },
        (after) => users.listDormantUsers({ inactiveForDays: 90, after, limit: 10 }),
      ),
      sqlCase('countDormantUsers', '{ inactiveForDays: 90 }', none, () => users.countDormantUsers({ inactiveForDays: 90 })),
      sqlCase('searchUsersByNameOrEmail', "'seed', offset 0, limit 10", none, () => users.searchUsersByNameOrEmail('seed', 0, 10)),
      sqlCase('searchUsersByNameOrEmail', "'50%_off', offset 0, limit 10, { withDeleted: true }", none, () =>
        users.searchUsersByNameOrEmail('50%_off', 0, 10, { withDeleted: true }),
      ),
      sqlCase('searchUsersByNameOrEmail', "'jo' (a short term), offset 0, limit 10", none, () => users.searchUsersByNameOrEmail('jo', 0, 10)),
      sqlCase('filterUsersByStatus', 'false, { limit: 10 }', none, () => users.filterUsersByStatus(false, { limit: 10 })),
      sqlCase('getActiveUsers', '{ offset: 5, limit: 10 }', none, () => users.getActiveUsers({ offset: 5, limit: 10 })),
      sqlCase('getInactiveUsers', '{ withDeleted: true }', none, () => users.getInactiveUsers({ withDeleted: true })),
      sqlCase('filterUsersByRole', "'admin', { limit: 10 }", none, () => users.filterUsersByRole('admin', { limit: 10 })),
      sqlCase('getUsersCreatedWithin', '2026-01-01, 2027-01-01', none, () =>
        users.getUsersCreatedWithin(new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z')),
      ),
      sqlCase('getUsersByCustomField', "'plan', 'pro', { limit: 10 }", none, () => users.getUsersByCustomField('plan', 'pro', { limit: 10 })),
      sqlCase('findUsers', 'no filter', none, () => users.findUsers({})),
      sqlCase('findUsers', '{ isActive: true }, { limit: 10 }', none, () => users.findUsers({ isActive: true }, { limit: 10 })),
      sqlCase('findUsers', "{ role: 'admin' }", none, () => users.findUsers({ role: 'admin' })),
      sqlCase('findUsers', "{ isActive: false, role: 'user', createdFrom, createdTo }, { withDeleted: true }", none, () =>
        users.findUsers(
          { isActive: false, role: 'user', createdFrom: new Date('2020-01-01T00:00:00Z'), createdTo: new Date('2100-01-01T00:00:00Z') },
          { withDeleted: true },
        ),
      ),
      sqlCase('countUsers', '', none, () => users.countUsers()),
      sqlCase('countUsers', 'true', none, () => users.countUsers(true)),
      sqlCase('countUsers', 'undefined, { withDeleted: true }', none, () => users.countUsers(undefined, { withDeleted: true })),
      sqlCase('getUserWithFiles', 'id of a live user', id, (userId) => users.getUserWithFiles(userId)),
      sqlCase('userSignupsPerMonth', '2026', none, () => users.userSignupsPerMonth(2026)),
      sqlCase('isEmailUnique', 'a new email', none, () => users.isEmailUnique(uniqueEmail())),
      sqlCase('isEmailUnique', "a user's email, that user's id", () => user(), (u) => users.isEmailUnique(u.email, u.id)),
      sqlCase('lockActiveUsersWithRole', "'admin', inside dbTransaction", none, () => users.dbTransaction(() => users.lockActiveUsersWithRole('admin'))),
      sqlCase('countActiveUsersWithRole', "['admin', 'owner'], one excluded id", id, (userId) => users.countActiveUsersWithRole(['admin', 'owner'], [userId])),
      sqlCase('getCredentialsByEmail', "a live user's email", () => user(), (u) => users.getCredentialsByEmail(u.email)),
      sqlCase('getCredentialsById', 'id of a live user', id, (userId) => users.getCredentialsById(userId)),
      sqlCase('getUserAuthState', 'id of a live user; cache miss', id, (userId) => users.getUserAuthState(userId)),
      sqlCase('getUserAuthState', 'id of a live user, inside dbTransaction (no cache)', id, (userId) =>
        users.dbTransaction(() => users.getUserAuthState(userId)),
      ),

      // Writes
      sqlCase('createUserWithValidation', "a new email, a password, { fullName: 'New User' }", none, () =>
        users.createUserWithValidation(uniqueEmail('new'), PASSWORD, { fullName: 'New User' }),
      ),
      sqlCase('prepareNewUser', 'a new email, a password', none, () => users.prepareNewUser(uniqueEmail('new'), PASSWORD)),
      sqlCase('insertNewUser', 'a prepared new user', () => users.prepareNewUser(uniqueEmail('new'), PASSWORD), (prepared) => users.insertNewUser(prepared)),
      sqlCase('upsertUser', 'a new email', none, () => users.upsertUser(uniqueEmail('upsert'))),
      sqlCase('upsertUser', "a user's email, { fullName, roles }", () => user(), (u) => users.upsertUser(u.email, { fullName: 'Upserted', roles: ['user', 'editor'] })),
      sqlCase('upsertUserReportingCreation', 'a new email, { isActive: false, metadata, hashedPassword }', factoryPasswordHash, (hash) =>
        users.upsertUserReportingCreation(uniqueEmail('upsert'), { isActive: false, metadata: { plan: 'free' }, hashedPassword: hash }),
      ),
      sqlCase('partialUpdateUser', "id, { fullName: 'Renamed' }", id, (userId) => users.partialUpdateUser(userId, { fullName: 'Renamed' })),
      sqlCase('partialUpdateUser', 'id, { email, isActive, metadata }, { expectedVersion: current }', () => user(), (u) =>
        users.partialUpdateUser(u.id, { email: uniqueEmail('renamed'), isActive: false, metadata: { plan: 'team' } }, { expectedVersion: u.version }),
      ),
      sqlCase('partialUpdateUser', 'id, {} (nothing to change)', id, (userId) => users.partialUpdateUser(userId, {})),
      sqlCase(
        'partialUpdateUser',
        "id, { fullName: 'Late' }, { expectedVersion: stale }",
        () => user(),
        (u) => users.partialUpdateUser(u.id, { fullName: 'Late' }, { expectedVersion: u.version + 1 }),
        { rejects: ErrorCode.VERSION_CONFLICT },
      ),
      sqlCase('softDeleteUser', 'id of a live user', id, (userId) => users.softDeleteUser(userId)),
      sqlCase('restoreUser', 'id of a soft-deleted user', async () => (await users.softDeleteUser(await id())).id, (userId) => users.restoreUser(userId)),
      sqlCase('restoreUser', 'id of a live user (nothing to restore)', id, (userId) => users.restoreUser(userId)),
      sqlCase('deactivateUser', 'id of an active user', id, (userId) => users.deactivateUser(userId)),
      sqlCase('deactivateUser', 'id of an inactive user (nothing to change)', async () => (await user({ isActive: false })).id, (userId) => users.deactivateUser(userId)),
      sqlCase('reactivateUser', 'id of an inactive user', async () => (await user({ isActive: false })).id, (userId) => users.reactivateUser(userId)),
      sqlCase('updateLastLogin', 'id, 2026-05-01T12:00:00Z', id, (userId) => users.updateLastLogin(userId, new Date('2026-05-01T12:00:00Z'))),
      sqlCase('changeUserPassword', 'id, a new hash', async () => ({ userId: await id(), hash: await hashPassword('another password for sql') }), ({ userId, hash }) =>
        users.changeUserPassword(userId, hash),
      ),
      sqlCase(
        'replaceUserPasswordHash',
        'id, the current hash, a new hash',
        async () => ({ userId: await id(), current: await factoryPasswordHash(), next: await hashPassword('another password for sql') }),
        ({ userId, current, next }) => users.replaceUserPasswordHash(userId, current, next),
      ),
      sqlCase('endUserSessions', 'id of a live user', id, (userId) => users.endUserSessions(userId)),
      sqlCase('assignRoleToUser', "id, 'editor'", id, (userId) => users.assignRoleToUser(userId, 'editor')),
      sqlCase('revokeRoleFromUser', "id of an editor, 'editor'", async () => (await user({ roles: ['user', 'editor'] })).id, (userId) =>
        users.revokeRoleFromUser(userId, 'editor'),
      ),

      // Bulk
      sqlCase(
        'bulkCreateUsers',
        'three new users with hashed passwords',
        async () => {
          const hash = await factoryPasswordHash();
          return [1, 2, 3].map(() => ({ email: uniqueEmail('bulk'), hashedPassword: hash, roles: ['user'] }));
        },
        (rows) => users.bulkCreateUsers(rows),
      ),
      sqlCase('bulkUpdateUsers', "three ids, { isActive: false, metadata: { plan: 'team' } }", () => Promise.all([id(), id(), id()]), (ids) =>
        users.bulkUpdateUsers(ids, { isActive: false, metadata: { plan: 'team' } }),
      ),
      sqlCase('bulkDeleteUsers', 'two ids', () => Promise.all([id(), id()]), (ids) => users.bulkDeleteUsers(ids)),

      // Import and export
      sqlCase('exportUsersToCsv', '', none, async () => drain(await users.exportUsersToCsv())),
      sqlCase('exportUsersToCsv', '{ withDeleted: true }', none, async () => drain(await users.exportUsersToCsv({ withDeleted: true }))),
      sqlCase('exportUsersToJson', '', none, async () => drain(await users.exportUsersToJson())),
      sqlCase(
        'exportUsersToJson',
        "{ prologue: the REST route's audit row }",
        async () => audit().requestStatement([], 'users.exported', { outcome: 'success' }),
        async (prologue) => drain(await users.exportUsersToJson({ prologue })),
      ),
      sqlCase('importUsersFromDicts', 'two new rows', () => Promise.all([importRow(), importRow()]), (rows) => users.importUsersFromDicts(rows)),
      sqlCase(
        'importUsersFromDicts',
        "a row with an id and a row of an existing user, { onConflict: 'skip' }",
        async () => [{ ...(await importRow()), id: randomUUID() }, await importRow((await user()).email)],
        (rows) => users.importUsersFromDicts(rows, { onConflict: 'skip' }),
      ),
      sqlCase(
        'importUsersFromDicts',
        "a new row and a row of an existing user, { onConflict: 'update' }",
        async () => [await importRow(), await importRow((await user()).email)],
        (rows) => users.importUsersFromDicts(rows, { onConflict: 'update' }),
      ),
      sqlCase('importUsersFromDicts', 'two new rows, { dryRun: true }', () => Promise.all([importRow(), importRow()]), (rows) =>
        users.importUsersFromDicts(rows, { dryRun: true }),
      ),
      sqlCase('prepareImport', 'two new rows', () => Promise.all([importRow(), importRow()]), (rows) => users.prepareImport(rows)),
      sqlCase(
        'writeImport',
        'two prepared new rows',
        async () => users.prepareImport(await Promise.all([importRow(), importRow()])),
        (prepared) => users.writeImport(prepared),
      ),

      // Privacy, audit, transactions, sessions
      sqlCase('anonymizeUser', 'id of a live user', id, (userId) => users.anonymizeUser(userId)),
      sqlCase(
        'anonymizeUser',
        'id of an anonymized user (nothing to change)',
        async () => {
          const userId = await id();
          await users.anonymizeUser(userId);
          return userId;
        },
        (userId) => users.anonymizeUser(userId),
      ),
      sqlCase('auditLogUserChange', "id, 'user.updated', { fields: ['fullName'] }", id, (userId) =>
        users.auditLogUserChange(userId, 'user.updated', { fields: ['fullName'] }),
      ),
      sqlCase(
        'getAuditLog',
        'id of an audited user, { limit: 10 }',
        async () => {
          const userId = await id();
          await users.auditLogUserChange(userId, 'user.updated', { fields: ['fullName'] });
          return userId;
        },
        (userId) => users.getAuditLog(userId, { limit: 10 }),
      ),
      sqlCase('dbTransaction', 'partialUpdateUser and auditLogUserChange', id, (userId) =>
        users.dbTransaction(async () => {
          await users.partialUpdateUser(userId, { fullName: 'In Transaction' });
          await users.auditLogUserChange(userId, 'user.updated', { fields: ['fullName'] });
        }),
      ),
      sqlCase(
        'dbTransaction',
        'deactivateUser, then a failing step (rolled back)',
        id,
        (userId) =>
          users.dbTransaction(async () => {
            await users.deactivateUser(userId);
            await users.safeGetUserById(MISSING_ID);
          }),
        { rejects: ErrorCode.USER_NOT_FOUND },
      ),
      sqlCase('dbTransaction', 'a nested dbTransaction around endUserSessions (joins the outer one)', id, (userId) =>
        users.dbTransaction(() => users.dbTransaction(() => users.endUserSessions(userId))),
      ),
      sqlCase('dbSessionContext', 'work: getUsersByIds', id, (userId) => users.dbSessionContext(() => users.getUsersByIds([userId]))),
    ];
  }

  it('writes every statement of every case to test/sql/users.sql', async () => {
    // In the order the cases are listed: the facade's order, concern by concern.
    const ordered = cases();
    const pool = modulePool(ctx);
    const blocks: string[] = [];
    for (const c of ordered) {
      const input = await c.prepare();
      await quietPool(pool, 3);
      let meanwhile = c.meanwhile;
      const { result, statements } = await captureSentStatements(
        async () => {
          const outcome = await c.run(input).then(
            () => null,
            (error: unknown) => failure(error),
          );
          // Statements a call leaves running (a COPY's closing RESET) belong to its case.
          await quietPool(pool, 0);
          return outcome;
        },
        () => {
          meanwhile?.();
          meanwhile = undefined;
        },
      );
      expect({ case: `${c.method}(${c.args})`, failure: result }).toEqual({ case: `${c.method}(${c.args})`, failure: c.rejects ?? null });
      blocks.push(renderCase(c, statements));
    }
    const header = [
      '-- Every SQL statement UsersRepository sends to PostgreSQL, captured at the driver by',
      '-- test/sql/users-sql.spec.ts: one case per public method, parameters as $n with their shapes.',
      '-- Generated: run `npx jest test/sql`, review the diff, and commit it (CI fails on a change).',
    ].join('\n');
    writeFileSync(SNAPSHOT, `${header}\n\n${blocks.join('\n\n')}\n`);
  });

  it('has a case for every public method of UsersRepository but the excluded ones', () => {
    const snapshot = readFileSync(SNAPSHOT, 'utf8');
    const covered = new Set([...snapshot.matchAll(/^-- UsersRepository\.(\w+)\(/gm)].map((m) => m[1]));
    const methods = repositoryMethods();
    expect(Object.keys(EXCLUDED).filter((name) => !methods.includes(name))).toEqual([]);
    expect([...covered].sort()).toEqual(methods.filter((name) => !(name in EXCLUDED)).sort());
  });
});
