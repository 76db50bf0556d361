import { EmbeddedPostgres } from './embedded-postgres';

export interface DatabaseServer {
  url: string;
  stop(): Promise<void>;
}

// DATABASE_URL when configured; otherwise the embedded server with its data under DATA_DIR.
export async function openDatabaseServer(config: { databaseUrl?: string; dataDir: string; embeddedPostgresPort?: number }): Promise<DatabaseServer> {
  if (config.databaseUrl) return { url: config.databaseUrl, stop: async () => undefined };
  const embedded = await EmbeddedPostgres.start({ dataDir: config.dataDir, port: config.embeddedPostgresPort });
  return { url: embedded.url, stop: () => embedded.stop() };
}
