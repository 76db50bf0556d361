import { createHash } from 'node:crypto';
import { parseEnv, type AppConfig } from '../../src/config/app-config';

// Redis keys are namespaced per run and per test file: files running in parallel (and earlier
// runs within a rate-limit window) never share counters or cache entries, while the contexts of
// one file can share them on purpose.
function redisKeyPrefix(): string {
  const file = createHash('sha1').update(expect.getState().testPath ?? 'none').digest('hex').slice(0, 10);
  return `nest-users-test:${process.env.NEST_USERS_TEST_RUN ?? 'run'}:${file}:`;
}

// The app's configuration for a test: defaults, the test's database, Redis only when the run has
// REDIS_URL, and overrides. Migrations are already in the template.
export function testConfig(databaseUrl: string, overrides: Partial<AppConfig> = {}): AppConfig {
  const config = parseEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    REDIS_URL: process.env.REDIS_URL,
    REDIS_KEY_PREFIX: redisKeyPrefix(),
    JWT_SECRET: 'test-secret-test-secret-test-secret!',
  });
  return Object.assign(config, { databaseUrl, migrationsRun: false, databasePoolMax: 5 }, overrides);
}
