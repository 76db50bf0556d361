import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import request from 'supertest';
import { createApp } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import type { AppConfig } from '../../src/config/app-config';
import { hashPassword } from '../../src/users/password';
import type { User } from '../../src/users/user.model';
import { UsersRepository } from '../../src/users/users.repository';
import { createTestDatabase } from '../support/test-database';
import { testConfig } from '../support/test-config';

export type Http = ReturnType<typeof request>;

export interface UserFactoryOverrides {
  email?: string;
  password?: string;
  fullName?: string | null;
  isActive?: boolean;
  roles?: string[];
}

export interface TestApp<App extends INestApplication = NestFastifyApplication> {
  app: App;
  http: Http;
  adminToken: string;
  admin: User;
  tokenFor(user: Pick<User, 'id' | 'email'>, password?: string): Promise<string>;
  factories: {
    createUser(overrides?: UserFactoryOverrides): Promise<{ user: User; password: string }>;
  };
  users: UsersRepository;
  config: AppConfig;
  close(): Promise<void>;
}

// An address no other test in the run uses.
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}@example.com`;
}

// A loopback address of its own (all of 127/8 reaches this host). Rate limits count per client
// address, and with REDIS_URL every spec of the run (and earlier runs) shares the counters, so a
// client that must not meet anyone else's counters comes from an address of its own.
export function uniqueClientAddress(): string {
  return `127.${randomInt(1, 255)}.${randomInt(256)}.${randomInt(1, 255)}`;
}

export interface LoginReply {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

// POST /auth/login over a real TCP connection from `localAddress`, which the server sees as the
// peer (supertest always connects from 127.0.0.1). The app must be listening (createTestApp does).
export function loginFrom(app: INestApplication, localAddress: string, body: object, headers: Record<string, string> = {}): Promise<LoginReply> {
  const { port } = app.getHttpServer().address() as AddressInfo;
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: '/auth/login',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    call.on('error', reject);
    call.end(payload);
  });
}

// Limits high enough that ordinary specs never meet the throttlers; the throttling specs pass
// low limits as overrides.
const UNTHROTTLED: Partial<AppConfig> = {
  throttleLoginAddress: 1_000_000,
  throttleLoginAccountFailures: 1_000_000,
  throttleSensitive: { 'password-change': 1_000_000, anonymize: 1_000_000, export: 1_000_000, import: 1_000_000, 'bulk-delete': 1_000_000 },
};

// The whole application (AppModule through createApp, as production builds it) on a fresh
// database, with an administrator created by the startup bootstrap and logged in over HTTP.
export function createTestApp(overrides: Partial<AppConfig> = {}): Promise<TestApp> {
  return boot(overrides, async (config) => {
    const app = await createApp(config);
    await app.getHttpAdapter().getInstance().ready();
    return app;
  });
}

export interface ExpressTestAppOptions {
  // Nest's default body parsers (json up to 100 KB, urlencoded), as a host that keeps them has;
  // false is the setup the README recommends.
  bodyParser?: boolean;
}

// The same module tree on @nestjs/platform-express, created as a host app would create it (no
// app.factory.ts: that is this app's Fastify-only hardening), to prove the modules' routes work
// under Express.
export function createExpressTestApp(overrides: Partial<AppConfig> = {}, { bodyParser = false }: ExpressTestAppOptions = {}): Promise<TestApp<NestExpressApplication>> {
  return boot(overrides, async (config) => {
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), new ExpressAdapter(), { bufferLogs: true, bodyParser, forceCloseConnections: true });
    app.useLogger(app.get(Logger));
    return app;
  });
}

async function boot<App extends INestApplication>(overrides: Partial<AppConfig>, create: (config: AppConfig) => Promise<App>): Promise<TestApp<App>> {
  const database = await createTestDatabase();
  const config = testConfig(database.url, {
    ...UNTHROTTLED,
    adminEmail: uniqueEmail('admin'),
    adminPassword: `admin-${randomBytes(12).toString('hex')}`,
    ...overrides,
  });
  let app: App | undefined;
  try {
    app = await create(config);
    await app.listen(0, '127.0.0.1');
    return await assemble(app, config, database.drop);
  } catch (error) {
    await app?.close();
    await database.drop();
    throw error;
  }
}

async function assemble<App extends INestApplication>(app: App, config: AppConfig, dropDatabase: () => Promise<void>): Promise<TestApp<App>> {
  const http = request(app.getHttpServer());
  const users = app.get(UsersRepository);
  const passwords = new Map<string, string>();
  const loginAddress = uniqueClientAddress();
  const hashes = new Map<string, Promise<string>>();

  const tokenFor = async (user: Pick<User, 'id' | 'email'>, password = passwords.get(user.id)): Promise<string> => {
    if (password === undefined) throw new Error(`tokenFor: no known password for user ${user.id}; pass one`);
    // From this app's own address, so its logins never spend another spec's address budget.
    const response = await loginFrom(app, loginAddress, { email: user.email, password });
    if (response.statusCode !== 200) throw new Error(`tokenFor: login of ${user.email} answered ${response.statusCode} ${JSON.stringify(response.body)}`);
    return response.body.accessToken as string;
  };

  // Through the injected repository, with one argon2 hash per distinct password per app.
  const createUser = async (overrides: UserFactoryOverrides = {}): Promise<{ user: User; password: string }> => {
    const password = overrides.password ?? 'factory-password';
    if (!hashes.has(password)) hashes.set(password, hashPassword(password));
    const [user] = await users.bulkCreateUsers([
      {
        email: overrides.email ?? uniqueEmail(),
        hashedPassword: await hashes.get(password),
        fullName: overrides.fullName ?? null,
        isActive: overrides.isActive ?? true,
        roles: overrides.roles ?? ['user'],
      },
    ]);
    passwords.set(user.id, password);
    return { user, password };
  };

  if (!config.adminEmail || !config.adminPassword) throw new Error('createTestApp needs adminEmail and adminPassword');
  const credentials = await users.getCredentialsByEmail(config.adminEmail);
  if (!credentials) throw new Error('the admin bootstrap did not create the administrator');
  passwords.set(credentials.id, config.adminPassword);
  const adminToken = await tokenFor({ id: credentials.id, email: config.adminEmail });
  const admin = await users.safeGetUserById(credentials.id);

  return {
    app,
    http,
    adminToken,
    admin,
    tokenFor,
    factories: { createUser },
    users,
    config,
    close: async () => {
      await app.close();
      await dropDatabase();
    },
  };
}
