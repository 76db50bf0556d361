import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, MigrationExecutor, type QueryRunner } from 'typeorm';
import { loadConfigOrExit } from '../config/load-config';
import { dataSourceOptions } from '../users/users-data-source';
import { withUsersMigrationLock } from '../users/users-migrations';
import { openDatabaseServer } from '../database/database-server';
import { migrationNames, registerMigration, renderMigration } from './migration-generator';

// The sources next to the build this runs from (dist/cli → src): generate writes there.
const SOURCES = join(__dirname, '..', '..', 'src', 'users');

const USAGE = 'usage: migration-cli run | show | revert | generate <name>';

// The app's migrations, recorded in its TypeORM `migrations` table (the table its startup reads).
// Each command holds the lock runUsersMigrations takes, so that two operators never interleave.
//   run       applies the pending migrations, each in its own transaction;
//   show      lists them, [X] applied and [ ] pending;
//   revert    undoes the last applied one (its down() and its row, in one transaction);
//   generate  writes a migration for the difference between the entities and the schema, and
//             registers it (exit 1 when it wrote one). It refuses while migrations are pending:
//             the diff is then against an older schema, and would repeat their changes.
async function main(command: string | undefined, name: string | undefined): Promise<number> {
  if (!['run', 'show', 'revert', 'generate'].includes(command ?? '') || (command === 'generate') !== (name !== undefined)) {
    console.error(USAGE);
    return 2;
  }
  // A name that makes no class name fails before any connection.
  if (name !== undefined) migrationNames(name, 0);
  const config = loadConfigOrExit();
  const server = await openDatabaseServer(config);
  const dataSource = new DataSource(
    dataSourceOptions({
      url: server.url,
      // One connection holds the lock and runs the migrations, the other reads the schema for generate.
      poolMax: 2,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      statementTimeoutMs: 0,
      migrationsRun: false,
    }),
  );
  await dataSource.initialize();
  try {
    return await withUsersMigrationLock(dataSource, {}, (runner) => {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      if (command === 'run') return run(executor);
      if (command === 'show') return show(executor);
      if (command === 'revert') return revert(executor);
      return generate(executor, runner, name!);
    });
  } finally {
    await dataSource.destroy();
    await server.stop();
  }
}

async function run(executor: MigrationExecutor): Promise<number> {
  const applied = await executor.executePendingMigrations();
  console.info(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'no pending migration');
  return 0;
}

async function show(executor: MigrationExecutor): Promise<number> {
  // TypeORM lists the applied ones latest first.
  const applied = (await executor.getExecutedMigrations()).map((m) => m.name).reverse();
  const pending = await executor.getPendingMigrations();
  for (const name of applied) console.info(`[X] ${name}`);
  for (const migration of pending) console.info(`[ ] ${migration.name}`);
  return 0;
}

async function revert(executor: MigrationExecutor): Promise<number> {
  const [last] = await executor.getExecutedMigrations();
  if (last === undefined) {
    console.info('no applied migration');
    return 0;
  }
  await executor.undoLastMigration();
  console.info(`reverted: ${last.name}`);
  return 0;
}

async function generate(executor: MigrationExecutor, runner: QueryRunner, name: string): Promise<number> {
  const pending = await executor.getPendingMigrations();
  if (pending.length) {
    console.error(`pending migrations: ${pending.map((m) => m.name).join(', ')}; apply them first (npm run migration:run), then generate`);
    return 2;
  }
  const { upQueries, downQueries } = await runner.connection.driver.createSchemaBuilder().log();
  if (upQueries.length === 0) {
    console.info('No changes in database schema were found');
    return 0;
  }
  const migration = renderMigration(name, Date.now(), upQueries.map((q) => q.query), downQueries.map((q) => q.query).reverse());
  const file = join(SOURCES, 'migrations', migration.fileName);
  const steps = join(SOURCES, 'users-migrations.ts');
  writeFileSync(file, migration.source, { flag: 'wx' });
  writeFileSync(steps, registerMigration(readFileSync(steps, 'utf8'), migration.className, migration.fileName));
  console.info(
    `written ${file} and registered ${migration.className} in ${steps}: review its SQL, add its name to src/users/users-migrations.spec.ts, ` +
      'new tables to TableNames and new indexes to test/support/module-indexes.ts',
  );
  return 1;
}

main(process.argv[2], process.argv[3]).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
