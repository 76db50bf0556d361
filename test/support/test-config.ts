import { parseEnv, type AppConfig } from '../../src/config/app-config';

// The app's configuration for a test: defaults, the test's database, Redis only when the run has
// REDIS_URL, and overrides. Migrations are already in the template.
export function testConfig(databaseUrl: string, overrides: Partial<AppConfig> = {}): AppConfig {
  const config = parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', REDIS_URL: process.env.REDIS_URL, JWT_SECRET: 'test-secret-test-secret-test-secret!' });
  return Object.assign(config, { databaseUrl, migrationsRun: false, databasePoolMax: 5 }, overrides);
}
