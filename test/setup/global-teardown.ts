import { rmSync } from 'node:fs';
import { withAdminClient } from '../support/test-database';
import type { TestRun } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const run = (globalThis as { __testRun?: TestRun }).__testRun;
  if (!run) return;
  await withAdminClient(run.serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${run.template}" WITH (FORCE)`));
  await run.embedded?.stop();
  if (run.dataDir) rmSync(run.dataDir, { recursive: true, force: true });
}
