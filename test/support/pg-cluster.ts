import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../foundation/service-process';

const BIN = process.env.PG_TEST_BIN ?? '/usr/lib/postgresql/15/bin';

// A PostgreSQL cluster of a test's own, so that it may restart or freeze the server without
// touching the one the other suites share. As root it runs as the `postgres` system user.
export class PgCluster {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PgCluster> {
    const dir = mkdtempSync('/tmp/nest-users-cluster-');
    const owner = postgresOwner();
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const cluster = new PgCluster(dir, await freePort());
    cluster.run('initdb', ['-D', cluster.pgdata, '-U', 'postgres', '-A', 'trust', '--encoding=UTF8', '--locale=C.UTF-8']);
    cluster.pgCtl('start', '-w');
    return cluster;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  // A fast restart: every session ends with 57P01, as on a rolling restart of the server.
  restart(): void {
    this.pgCtl('restart', '-w', '-m', 'fast');
  }

  // SIGSTOP/SIGCONT of the postmaster and every backend: the server accepts nothing and answers nothing.
  freeze(): void {
    this.signalAll('STOP');
  }

  thaw(): void {
    this.signalAll('CONT');
  }

  async destroy(): Promise<void> {
    this.thaw();
    try {
      this.pgCtl('stop', '-w', '-m', 'immediate');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private get pgdata(): string {
    return join(this.dir, 'data');
  }

  private pgCtl(...args: string[]): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off`;
    this.run('pg_ctl', [...args, '-D', this.pgdata, '-l', join(this.dir, 'log'), '-o', options]);
  }

  private signalAll(signal: 'STOP' | 'CONT'): void {
    const postmaster = Number(readFileSync(join(this.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
    for (const pid of [postmaster, ...children]) {
      try {
        process.kill(pid, `SIG${signal}`);
      } catch {
        // a backend that ended meanwhile
      }
    }
  }

  private run(binary: string, args: string[]): void {
    const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    const [command, ...rest] = [...asPostgres, join(BIN, binary), ...args];
    execFileSync(command, rest, { stdio: 'pipe', cwd: this.dir });
  }
}

function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
