import 'reflect-metadata';
import { createWriteStream, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parseEnv } from '../src/config/app-config';
import { AppConfigModule } from '../src/config/app-config.module';
import { appDataSource, appUsersModule } from '../src/app.module';
import { UsersRepository } from '../src/users/users.repository';

// One export in a process of its own, so that its peak RSS is the export's and nothing else's.
// Prints one JSON line: seconds, bytes written, peak RSS and RSS growth during the export.
export type ExportMode = 'ours-csv' | 'ours-json' | 'copy-csv';

export interface ExportResult {
  seconds: number;
  bytes: number;
  peakRssMb: number;
  rssGrowthMb: number;
}

// The allow-listed columns of the export, as PostgreSQL itself writes them.
const REFERENCE_COPY = `COPY (SELECT id, email, full_name, is_active, is_deleted, deleted_at, roles, metadata, created_at, updated_at, last_login_at, version
  FROM users WHERE deleted_at IS NULL) TO STDOUT WITH (FORMAT csv, HEADER)`;

async function openSource(mode: ExportMode, databaseUrl: string): Promise<{ start: () => Promise<Readable>; close: () => Promise<void> }> {
  if (mode === 'copy-csv') {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    return { start: async () => client.query(copyTo(REFERENCE_COPY)), close: () => client.end() };
  }
  const config = Object.assign(parseEnv({ NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: 'x'.repeat(32) }), {
    databaseUrl,
    migrationsRun: false,
  });
  const context = await NestFactory.createApplicationContext(
    { module: class ExportBenchModule {}, imports: [AppConfigModule.forRoot(config), appDataSource(), appUsersModule({ routes: false })] },
    { logger: ['error', 'warn'] },
  );
  const users = context.get(UsersRepository);
  return {
    start: () => (mode === 'ours-csv' ? users.exportUsersToCsv() : users.exportUsersToJson()),
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
  await pipeline(await source.start(), createWriteStream(file));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  await source.close();
  const result: ExportResult = {
    seconds,
    bytes: statSync(file).size,
    peakRssMb: Math.max(peak, process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    rssGrowthMb: (peak - before) / 2 ** 20,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
