import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import type { AppConfig } from '../config/app-config';
import { loadConfigOrExit } from '../config/load-config';
import { openDatabaseServer } from '../database/database-server';
import { AdminBootstrap } from '../users/auth/admin-bootstrap.service';
import { readPassword } from './read-password';

export const ADMIN_CLI_USAGE = `usage: npm run admin:create -- --email <email> [--password <password>]

Creates the user <email> with the admin role, or gives an existing user that role (its password is
kept). The email may come from ADMIN_EMAIL instead. The password comes from --password, else
ADMIN_PASSWORD, else it is read: asked twice without echo on a terminal, or the first line of
standard input otherwise, e.g. printf '%s\\n' "$PASSWORD" | npm run admin:create -- --email <email>.
Only --password leaves it in the shell history and the process list.`;

// `npm run admin:create -- --email a@b.c [--password ...]`. Without a password here the caller
// reads it (readPassword).
export function adminArguments(argv: string[], env: NodeJS.ProcessEnv): { help: true } | { help?: false; email: string; password: string | undefined } {
  const { values } = parseArgs({
    args: argv,
    options: { email: { type: 'string' }, password: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) return { help: true };
  const email = values.email ?? env.ADMIN_EMAIL;
  if (!email) throw new Error(ADMIN_CLI_USAGE);
  return { email, password: values.password ?? env.ADMIN_PASSWORD };
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
  const args = adminArguments(process.argv.slice(2), process.env);
  if (args.help) return void console.info(ADMIN_CLI_USAGE);
  const email = args.email;
  const password = args.password ?? (await readPassword(process.stdin, process.stderr));
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
