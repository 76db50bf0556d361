import 'reflect-metadata';
import { createWriteStream, statSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NestFactory } from '@nestjs/core';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { stringify } from 'csv-stringify/sync';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { IsNull, type Repository } from 'typeorm';
import { parseEnv } from '../src/config/app-config';
import { AppConfigModule } from '../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../src/app.module';
import { UserEntity } from '../src/users/user.entity';
import { UsersRepository } from '../src/users/users.repository';

// One export in a process of its own, so that its peak RSS is the export's and nothing else's.
// Prints one JSON line: seconds, bytes written, peak RSS and RSS growth during the export.
export type ExportMode = 'ours-csv' | 'ours-json' | 'copy-csv' | 'boilerplate-csv' | 'boilerplate-json';

export interface ExportResult {
  seconds: number;
  bytes: number;
  peakRssMb: number;
  rssGrowthMb: number;
}

// The allow-listed columns of the export, as PostgreSQL itself writes them.
const REFERENCE_COPY = `COPY (SELECT id, email, full_name, is_active, is_deleted, deleted_at, roles, metadata, created_at, updated_at, last_login_at, version
  FROM users WHERE deleted_at IS NULL) TO STDOUT WITH (FORMAT csv, HEADER)`;

// The same columns, as the boilerplate's export names them.
const EXPORTED: (keyof UserEntity)[] = ['id', 'email', 'fullName', 'isActive', 'isDeleted', 'deletedAt', 'roles', 'metadata', 'createdAt', 'updatedAt', 'lastLoginAt', 'version'];

interface Source {
  // Writes the export to `file`, from the first query on.
  run: (file: string) => Promise<void>;
  close: () => Promise<void>;
}

const streamTo = (start: () => Promise<Readable>) => async (file: string) => pipeline(await start(), createWriteStream(file));

// The app's configuration for a context of this process.
function exportConfig(databaseUrl: string) {
  return Object.assign(parseEnv({ NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: 'x'.repeat(32) }), { databaseUrl, migrationsRun: false });
}

async function openSource(mode: ExportMode, databaseUrl: string): Promise<Source> {
  if (mode === 'copy-csv') {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    return { run: streamTo(async () => client.query(copyTo(REFERENCE_COPY))), close: () => client.end() };
  }
  if (mode === 'boilerplate-csv' || mode === 'boilerplate-json') return openBoilerplate(mode, databaseUrl);
  const context = await NestFactory.createApplicationContext(
    { module: class ExportBenchModule {}, imports: [AppConfigModule.forRoot(exportConfig(databaseUrl)), appDataSource(), appUsersModule({ routes: false })] },
    { logger: ['error', 'warn'] },
  );
  const users = context.get(UsersRepository);
  return {
    run: streamTo(() => (mode === 'ours-csv' ? users.exportUsersToCsv() : users.exportUsersToJson())),
    close: () => context.close(),
  };
}

// The boilerplate's export: a Nest context with TypeORM's repository of the entity, find() of
// every live user into memory, then csv-stringify or JSON.stringify of the whole list.
async function openBoilerplate(mode: 'boilerplate-csv' | 'boilerplate-json', databaseUrl: string): Promise<Source> {
  const context = await NestFactory.createApplicationContext(
    { module: class BoilerplateExportModule {}, imports: [AppConfigModule.forRoot(exportConfig(databaseUrl)), appDataSource(), TypeOrmModule.forFeature([UserEntity])] },
    { logger: ['error', 'warn'] },
  );
  const repository = context.get<Repository<UserEntity>>(getRepositoryToken(UserEntity));
  return {
    run: async (file) => {
      const users = await repository.find({ where: { deletedAt: IsNull() } });
      const rows = users.map((user) => Object.fromEntries(EXPORTED.map((column) => [column, user[column]])));
      const text =
        mode === 'boilerplate-csv' ? stringify(rows, { header: true, columns: EXPORTED, cast: { date: (date) => date.toISOString() } }) : JSON.stringify(rows);
      writeFileSync(file, text);
    },
    close: () => context.close(),
  };
}

async function main(): Promise<void> {
  const [mode, databaseUrl, file] = process.argv.slice(2) as [ExportMode, string, string];
  const source = await openSource(mode, databaseUrl);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  await source.run(file);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  // The sampler misses what happens while the event loop is blocked (a JSON.stringify of every
  // user): the process's maximum resident set size does not.
  peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  await source.close();
  const result: ExportResult = { seconds, bytes: statSync(file).size, peakRssMb: peak / 2 ** 20, rssGrowthMb: (peak - before) / 2 ** 20 };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
