import 'reflect-metadata';
import { createApp } from './app.factory';
import { resolveJwtSecret } from './config/jwt-secret';
import { loadConfigOrExit } from './config/load-config';
import { openDatabaseServer } from './database/database-server';

const SHUTDOWN_DEADLINE_MS = 25_000;

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  // The JWT secret (or its generated file) is checked before anything starts: a bad one is one
  // line on stderr, not a stack trace from inside the app's construction.
  resolveJwtSecret(config);
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
    // In-flight requests get until the deadline (inside Kubernetes' default 30 s grace period); a
    // stream that is still being read then (a slow export) is cut off rather than waited for.
    const closed = await Promise.race([
      app.close().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), SHUTDOWN_DEADLINE_MS).unref()),
    ]);
    await database.stop();
    if (!closed) {
      console.error(`stopped on ${signal} after ${SHUTDOWN_DEADLINE_MS} ms with requests still open`);
      process.exit(1);
    }
    console.info(`stopped on ${signal}`);
  };
  const onSignal = (signal: NodeJS.Signals) =>
    stop(signal).catch((error: unknown) => {
      console.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
  process.once('SIGTERM', (s) => void onSignal(s));
  process.once('SIGINT', (s) => void onSignal(s));
}

bootstrap().catch((error: unknown) => {
  console.error(`startup failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
