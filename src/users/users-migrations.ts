import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { TableNames, type TableNaming } from '../database/table-names';
import { discardConnection } from '../database/db.service';
import { pgErrorOf, SQLSTATE } from '../errors/database-errors';
import { InitialSchema1764300000000 } from './migrations/1764300000000-initial-schema';
import { TokenEpoch1764900000000 } from './migrations/1764900000000-token-epoch';
import { EmailCaseFolding1764900001000 } from './migrations/1764900001000-email-case-folding';
import { SearchText1765300000000 } from './migrations/1765300000000-search-text';
import { Outbox1765400000000 } from './migrations/1765400000000-outbox';
import { Webhooks1765500000000 } from './migrations/1765500000000-webhooks';
import { Dormancy1765600000000 } from './migrations/1765600000000-dormancy';

const logger = new Logger('UsersMigrations');

export type NamedMigration = MigrationInterface & { readonly name: string };

// The module's migrations, oldest first. A new one takes a TableNames and names every table and
// object through it (see the ones here).
const STEPS: (new (names: TableNames) => NamedMigration)[] = [
  InitialSchema1764300000000,
  TokenEpoch1764900000000,
  EmailCaseFolding1764900001000,
  SearchText1765300000000,
  Outbox1765400000000,
  Webhooks1765500000000,
  Dormancy1765600000000,
];

export type MigrationClass = new () => NamedMigration;

// The migrations of one naming as classes, for a DataSource's `migrations` option (TypeORM
// instantiates them without arguments). The default naming keeps the names this app has always
// recorded; another naming gets its own names (InitialSchema[app_]1764300000000), so several
// namings can share one host's migrations list and table.
export function usersMigrations(naming: TableNaming = {}): MigrationClass[] {
  const names = new TableNames(naming);
  return STEPS.map(
    (Step) =>
      class extends Step {
        constructor() {
          super(names);
        }
      },
  );
}

// Applies the pending migrations of `naming` with the host's initialised DataSource, and returns
// the names it applied. It keeps its own record (a table TypeORM's own migrations could read,
// `<schema>.<prefix>users_migrations`), so the host's migrations are never touched; holds a
// PostgreSQL advisory lock meanwhile, so that instances booting together migrate once; and runs
// each migration in its own transaction, stopping at the first that fails. Migrations may run
// longer than the pool's statement timeout allows a request: it is lifted on this connection.
export async function runUsersMigrations(dataSource: DataSource, naming: TableNaming = {}): Promise<string[]> {
  const names = new TableNames(naming);
  return withUsersMigrationLock(dataSource, naming, async (runner) => {
    const applied = await applyPending(runner, names, dataSource);
    logger.log(applied.length ? `applied migrations: ${applied.join(', ')}` : `no pending migration for ${names.users}`);
    return applied;
  });
}

// Runs `work` on a connection of its own, without statement timeout, holding the migration lock of
// `naming`: the migration CLI takes it too, so that a revert never interleaves with a run.
export async function withUsersMigrationLock<T>(dataSource: DataSource, naming: TableNaming, work: (runner: QueryRunner) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner('master');
  await runner.connect();
  const lock = advisoryLockKey(new TableNames(naming).migrations);
  try {
    await runner.query(`SET statement_timeout = 0`);
    await runner.query(`SELECT pg_advisory_lock($1::bigint)`, [lock]);
    return await work(runner);
  } finally {
    await unlockAndRelease(runner, lock);
  }
}

async function applyPending(runner: QueryRunner, names: TableNames, dataSource: DataSource): Promise<string[]> {
  // The table and the rows it adopts commit together: an empty table left by a crash in between
  // would make every later start re-run the first migration over existing tables.
  await runner.startTransaction();
  try {
    await ensureTrackingTable(runner, names, dataSource);
    await runner.commitTransaction();
  } catch (error) {
    await runner.rollbackTransaction();
    throw error;
  }
  const done = new Set(((await runner.query(`SELECT name FROM ${names.migrations}`)) as { name: string }[]).map((r) => r.name));
  const applied: string[] = [];
  for (const step of steps(names)) {
    if (done.has(step.name)) continue;
    await runner.startTransaction();
    try {
      await step.up(runner);
      await runner.query(`INSERT INTO ${names.migrations} ("timestamp", "name") VALUES ($1, $2)`, [step.name.slice(-13), step.name]);
      await runner.commitTransaction();
    } catch (error) {
      await runner.rollbackTransaction();
      throw withHint(error, names);
    }
    applied.push(step.name);
  }
  return applied;
}

// A table of the same name already in the database (42P07): the host's own `users`, most likely.
// The migration was rolled back; the error says what to change.
function withHint(error: unknown, names: TableNames): unknown {
  if (pgErrorOf(error)?.code !== SQLSTATE.DUPLICATE_TABLE || !(error instanceof Error)) return error;
  error.message = `${error.message}: the database already has a table the module would create (${names.users}, ${names.files}, ${names.auditLog}, ${names.outbox}, ${names.outboxDeliveries}, ${names.outboxDestinations} or ${names.webhooks}); give UsersModule a tablePrefix or a schema`;
  return error;
}

// The connection goes back to the pool without the lock and with its own statement timeout;
// one that cannot be reset is closed instead (closing it also drops the lock).
async function unlockAndRelease(runner: QueryRunner, lock: string): Promise<void> {
  try {
    await runner.query(`SELECT pg_advisory_unlock($1::bigint)`, [lock]);
    await runner.query(`RESET statement_timeout`);
  } catch {
    await discardConnection(runner);
  } finally {
    await runner.release();
  }
}

// Creates the tracking table when it is missing. A database migrated through a DataSource's
// `migrations` option (this app's own route) has recorded these migrations in that DataSource's
// table: those rows are adopted, so switching routes re-runs nothing.
async function ensureTrackingTable(runner: QueryRunner, names: TableNames, dataSource: DataSource): Promise<void> {
  const [{ exists }] = (await runner.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [names.migrations])) as { exists: boolean }[];
  if (exists) return;
  if (names.schema !== undefined) await runner.query(`CREATE SCHEMA IF NOT EXISTS "${names.schema}"`);
  await runner.query(`
    CREATE TABLE ${names.migrations} (
      "id" SERIAL NOT NULL,
      "timestamp" bigint NOT NULL,
      "name" character varying NOT NULL,
      CONSTRAINT ${names.object('PK_users_migrations')} PRIMARY KEY ("id")
    )`);
  const options = dataSource.options as { migrationsTableName?: string; schema?: string };
  const typeormTable = [options.schema, options.migrationsTableName ?? 'migrations']
    .filter((part): part is string => part !== undefined)
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
  const [{ found }] = (await runner.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [typeormTable])) as { found: boolean }[];
  if (!found) return;
  await runner.query(
    `INSERT INTO ${names.migrations} ("timestamp", "name")
     SELECT "timestamp", "name" FROM ${typeormTable} WHERE "name" = ANY($1::text[]) ORDER BY "id"`,
    [steps(names).map((step) => step.name)],
  );
}

function steps(names: TableNames): NamedMigration[] {
  return STEPS.map((Step) => new Step(names));
}

// One lock per tracking table: two namings in one database migrate independently.
function advisoryLockKey(table: string): string {
  return createHash('sha256').update(`nest-users migrations ${table}`).digest().readBigInt64BE(0).toString();
}
