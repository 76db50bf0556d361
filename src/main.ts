import 'reflect-metadata';
import { createApp } from './app.factory';
import { loadConfigOrExit } from './config/load-config';
import { openDatabaseServer } from './database/database-server';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const database = await openDatabaseServer(config);
  config.databaseUrl = database.url;
  const app = await createApp(config);
  await app.listen({ port: config.port, host: config.host });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // app.close() stops accepting, lets in-flight requests finish, then runs the shutdown hooks
    // that close the pool and Redis; the database server (when embedded) goes last.
    await app.close();
    await database.stop();
    console.info(`stopped on ${signal}`);
  };
  process.once('SIGTERM', (s) => void stop(s));
  process.once('SIGINT', (s) => void stop(s));
}

bootstrap().catch((error: unknown) => {
  console.error(`startup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
