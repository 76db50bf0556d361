import { resolve } from 'node:path';
import { ConfigError, parseEnv } from './app-config';

function configError(env: Record<string, string>): ConfigError {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`parseEnv accepted ${JSON.stringify(env)}`);
}

describe('parseEnv', () => {
  it('gives every variable its documented default', () => {
    expect({ ...parseEnv({}) }).toEqual({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      databasePoolMax: 10,
      databaseConnectTimeoutMs: 5000,
      databaseStatementTimeoutMs: 30000,
      exportStatementTimeoutMs: 600000,
      migrationsRun: true,
      dataDir: resolve('./data'),
      embeddedPostgresPort: undefined,
      redisUrl: undefined,
      redisKeyPrefix: 'nest-users:',
      cacheTtlMs: 60000,
      cacheTimeoutMs: 150,
      cacheMaxEntries: 10000,
      logLevel: 'info',
      trustProxy: false,
      bodyLimitBytes: 10485760,
      httpRequestTimeoutMs: 30000,
      httpConnectionTimeoutMs: 120000,
      httpKeepAliveTimeoutMs: 72000,
      throttleWindowMs: 900000,
      throttleLoginAccountFailures: 10,
      throttleLoginAddress: 100,
      throttleSensitive: { 'password-change': 5, anonymize: 5, export: 5, import: 5, 'bulk-delete': 5 },
      jwtSecret: undefined,
      jwtExpiresInSeconds: 3600,
      adminEmail: undefined,
      adminPassword: undefined,
      eventsEnabled: true,
      eventsRelay: true,
      eventsPollIntervalMs: 500,
      eventsMaxAttempts: 10,
      eventsBackoffMs: 1000,
      eventsRetainDays: 7,
      eventsNatsUrl: undefined,
      eventsNatsSubjectPrefix: 'users.events',
      eventsNatsStream: 'USERS_EVENTS',
      eventsAmqpUrl: undefined,
      eventsAmqpExchange: 'users.events',
      eventsLeaseMs: 60000,
      eventsHandlerTimeoutMs: 10000,
      eventsWebhookAllowedHosts: [],
      eventsWebhookUrl: undefined,
      eventsWebhookSecret: undefined,
      eventsWebhookTypes: undefined,
      retentionWarnAfterDays: undefined,
      retentionDeactivateAfterDays: undefined,
      retentionAnonymizeAfterDays: undefined,
      retentionSchedule: undefined,
    });
  });

  it('treats empty and blank values as unset, as .env.example leaves them', () => {
    expect(parseEnv({ DATABASE_URL: '', REDIS_URL: '  ', PORT: '' })).toMatchObject({ databaseUrl: undefined, redisUrl: undefined, port: 3000 });
  });

  it('reads configured values', () => {
    const config = parseEnv({
      PORT: '8080',
      DATABASE_URL: 'postgres://app:secret@db:5432/users',
      REDIS_URL: 'redis://cache:6379',
      MIGRATIONS_RUN: 'false',
      DATA_DIR: '/var/lib/users',
      EMBEDDED_POSTGRES_PORT: '54329',
      LOG_LEVEL: 'debug',
      DATABASE_POOL_MAX: '25',
      HTTP_REQUEST_TIMEOUT_MS: '10000',
      EVENTS_NATS_URL: 'nats://nats:4222',
      EVENTS_NATS_SUBJECT_PREFIX: 'acme.users',
      EVENTS_NATS_STREAM: 'ACME_USERS',
      EVENTS_AMQP_URL: 'amqp://app:secret@rabbit:5672/prod',
      EVENTS_AMQP_EXCHANGE: 'acme.users',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://app:secret@db:5432/users',
      redisUrl: 'redis://cache:6379',
      migrationsRun: false,
      dataDir: '/var/lib/users',
      embeddedPostgresPort: 54329,
      logLevel: 'debug',
      databasePoolMax: 25,
      httpRequestTimeoutMs: 10000,
      eventsNatsUrl: 'nats://nats:4222',
      eventsNatsSubjectPrefix: 'acme.users',
      eventsNatsStream: 'ACME_USERS',
      eventsAmqpUrl: 'amqp://app:secret@rabbit:5672/prod',
      eventsAmqpExchange: 'acme.users',
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '0'],
    ['PORT', '65536'],
    ['PORT', '3000.5'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://db/users'],
    ['REDIS_URL', 'http://cache:6379'],
    ['REDIS_KEY_PREFIX', 'has spaces'],
    ['DATABASE_POOL_MAX', '-1'],
    ['DATABASE_CONNECT_TIMEOUT_MS', '10'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', 'soon'],
    ['MIGRATIONS_RUN', 'yes'],
    ['EMBEDDED_POSTGRES_PORT', '99999'],
    ['CACHE_TTL_MS', '1e3'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ENV', 'staging'],
    ['TRUST_PROXY', 'everyone'],
    ['THROTTLE_WINDOW_MS', '0'],
    ['HTTP_REQUEST_TIMEOUT_MS', '0'],
    ['EVENTS_NATS_URL', 'http://nats:4222'],
    ['EVENTS_NATS_SUBJECT_PREFIX', 'users.>'],
    ['EVENTS_NATS_STREAM', 'users events'],
    ['EVENTS_AMQP_URL', 'nats://rabbit'],
    ['EVENTS_AMQP_EXCHANGE', 'amq.topic'],
    ['EVENTS_LEASE_MS', '10'],
    ['EVENTS_WEBHOOK_ALLOWED_HOSTS', 'hooks.example.com, not a host'],
    ['EVENTS_WEBHOOK_ALLOWED_HOSTS', '10.0.0.0/33'],
    ['EVENTS_WEBHOOK_URL', 'ftp://hooks.example.com/in'],
  ])('refuses %s=%j with a ConfigError naming it', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).not.toContain('\n');
  });

  it('parses THROTTLE_SENSITIVE, keeping the default for actions it leaves out', () => {
    expect(parseEnv({ THROTTLE_SENSITIVE: 'export:2, anonymize:9' }).throttleSensitive).toEqual({
      'password-change': 5,
      anonymize: 9,
      export: 2,
      import: 5,
      'bulk-delete': 5,
    });
  });

  it.each(['export', 'export:0', 'unknown:3', 'export:2;import:3', 'export:-1'])('refuses THROTTLE_SENSITIVE=%j', (value) => {
    expect(configError({ THROTTLE_SENSITIVE: value }).variable).toBe('THROTTLE_SENSITIVE');
  });

  it.each([
    ['false', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.1', '10.0.0.1'],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
    ['::1', '::1'],
  ])('reads TRUST_PROXY=%j', (value, expected) => {
    expect(parseEnv({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it('reads the webhook the environment subscribes, with its allow-list, and refuses a half or a bad one', () => {
    const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
    expect(
      parseEnv({
        EVENTS_WEBHOOK_URL: 'https://hooks.example.com/in',
        EVENTS_WEBHOOK_SECRET: secret,
        EVENTS_WEBHOOK_TYPES: 'user.created, user.deleted',
        EVENTS_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com, *.partner.example, 10.1.0.0/16, ::1',
      }),
    ).toMatchObject({
      eventsWebhookUrl: 'https://hooks.example.com/in',
      eventsWebhookSecret: secret,
      eventsWebhookTypes: ['user.created', 'user.deleted'],
      eventsWebhookAllowedHosts: ['hooks.example.com', '*.partner.example', '10.1.0.0/16', '::1'],
    });
    expect(configError({ EVENTS_WEBHOOK_URL: 'https://hooks.example.com/in' }).variable).toBe('EVENTS_WEBHOOK_SECRET');
    expect(configError({ EVENTS_WEBHOOK_SECRET: secret }).variable).toBe('EVENTS_WEBHOOK_URL');
    const short = configError({ EVENTS_WEBHOOK_URL: 'https://hooks.example.com/in', EVENTS_WEBHOOK_SECRET: 'whsec_c2hvcnQ=' });
    expect(short.variable).toBe('EVENTS_WEBHOOK_SECRET');
    expect(short.message).not.toContain('c2hvcnQ');
    expect(configError({ EVENTS_WEBHOOK_URL: 'https://hooks.example.com/in', EVENTS_WEBHOOK_SECRET: secret, EVENTS_WEBHOOK_TYPES: 'user.exploded' }).variable).toBe('EVENTS_WEBHOOK_TYPES');
  });

  it('keeps the delivery timeout below the lease', () => {
    expect(parseEnv({ EVENTS_LEASE_MS: '3000' })).toMatchObject({ eventsLeaseMs: 3000, eventsHandlerTimeoutMs: 2999 });
    expect(parseEnv({ EVENTS_LEASE_MS: '3000', EVENTS_HANDLER_TIMEOUT_MS: '1000' }).eventsHandlerTimeoutMs).toBe(1000);
    expect(configError({ EVENTS_LEASE_MS: '3000', EVENTS_HANDLER_TIMEOUT_MS: '3000' }).variable).toBe('EVENTS_HANDLER_TIMEOUT_MS');
  });

  it('requires JWT_SECRET in production, and refuses one shorter than 32 characters in every mode', () => {
    expect(configError({ NODE_ENV: 'production' }).variable).toBe('JWT_SECRET');
    for (const NODE_ENV of ['production', 'development', 'test']) {
      expect(configError({ NODE_ENV, JWT_SECRET: 'secret' }).variable).toBe('JWT_SECRET');
      expect(configError({ NODE_ENV, JWT_SECRET: 'x'.repeat(31) }).variable).toBe('JWT_SECRET');
      expect(parseEnv({ NODE_ENV, JWT_SECRET: 'x'.repeat(32) }).jwtSecret).toBe('x'.repeat(32));
    }
    expect(parseEnv({ NODE_ENV: 'development' }).jwtSecret).toBeUndefined();
  });

  it('does not echo the rejected secret', () => {
    expect(configError({ NODE_ENV: 'production', JWT_SECRET: 'hunter2' }).message).not.toContain('hunter2');
    expect(configError({ NODE_ENV: 'development', JWT_SECRET: 'hunter2' }).message).not.toContain('hunter2');
  });
});
