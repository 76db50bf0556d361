import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import type { AppConfig } from '../config/app-config';
import { loadConfigOrExit } from '../config/load-config';
import { openDatabaseServer } from '../database/database-server';
import { AdminBootstrap } from '../users/auth/admin-bootstrap.service';

// `npm run admin:create -- --email a@b.c --password ...`. The password may come from ADMIN_PASSWORD
// instead, which keeps it out of the shell history and the process list.
export function adminArguments(argv: string[], env: NodeJS.ProcessEnv): { email: string; password: string } {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' }, password: { type: 'string' } }, strict: true });
  const email = values.email ?? env.ADMIN_EMAIL;
  const password = values.password ?? env.ADMIN_PASSWORD;
  if (!email || !password) throw new Error('usage: npm run admin:create -- --email <email> --password <password> (or ADMIN_PASSWORD)');
  return { email, password };
}

// Boots the application context (database, migrations, UsersModule) without HTTP and runs the
// same AdminBootstrap the server runs at startup. Returns the one line to print.
export async function createAdmin(config: AppConfig, email: string, password: string): Promise<string> {
  // Only the account named on the command line: the startup bootstrap is not run a second time.
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ ...config, adminEmail: undefined, adminPassword: undefined }), {
    logger: ['error', 'warn'],
  });
  try {
    const { user, outcome } = await app.get(AdminBootstrap).ensureAdmin(email, password);
    return `admin ${user.email} (${user.id}): ${outcome}`;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const { email, password } = adminArguments(process.argv.slice(2), process.env);
  const config = loadConfigOrExit();
  const database = await openDatabaseServer(config);
  try {
    console.info(await createAdmin({ ...config, databaseUrl: database.url }, email, password));
  } finally {
    await database.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`admin:create failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
