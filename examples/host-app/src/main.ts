import { AppModule } from './app.module';
import { createHostApp, hostAdapter } from './bootstrap';
import { HostConfig } from './host-config';

async function main(): Promise<void> {
  const app = await createHostApp(AppModule.forRoot(HostConfig.fromEnv()), hostAdapter(process.env.HOST_ADAPTER));
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), '0.0.0.0');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
