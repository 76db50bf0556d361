import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfigOrExit } from '../config/load-config';
import { dataSourceOptions } from '../users/users-data-source';
import { openDatabaseServer } from '../database/database-server';

// `migration-cli run` applies pending migrations; `migration-cli generate Name` compares the
// entities with the migrated schema and writes a migration for any difference.
async function main(command: string | undefined, name = 'Change'): Promise<number> {
  const config = loadConfigOrExit();
  const server = await openDatabaseServer(config);
  const dataSource = new DataSource(
    dataSourceOptions({
      url: server.url,
      poolMax: 1,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      statementTimeoutMs: 0,
      migrationsRun: false,
    }),
  );
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.info(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'no pending migration');
      return 0;
    }
    if (command === 'generate') {
      await dataSource.runMigrations({ transaction: 'each' });
      const { upQueries, downQueries } = await dataSource.driver.createSchemaBuilder().log();
      if (upQueries.length === 0) {
        console.info('No changes in database schema were found');
        return 0;
      }
      const timestamp = Date.now();
      const file = join(__dirname, '..', '..', 'src', 'users', 'migrations', `${timestamp}-${name}.ts`);
      const lines = (queries: { query: string }[]) => queries.map((q) => `    await db.query(${JSON.stringify(q.query)});`).join('\n');
      writeFileSync(
        file,
        `import type { MigrationInterface, QueryRunner } from 'typeorm';\n\nexport class ${name}${timestamp} implements MigrationInterface {\n` +
          `  async up(db: QueryRunner): Promise<void> {\n${lines(upQueries)}\n  }\n\n` +
          `  async down(db: QueryRunner): Promise<void> {\n${lines([...downQueries].reverse())}\n  }\n}\n`,
      );
      console.info(`written ${file}: name its tables and objects through TableNames (as the other migrations do) and add it to STEPS in src/users/users-migrations.ts`);
      return 1;
    }
    console.error('usage: migration-cli run | generate <Name>');
    return 2;
  } finally {
    await dataSource.destroy();
    await server.stop();
  }
}

main(process.argv[2], process.argv[3]).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
