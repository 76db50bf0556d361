import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const MAIN = resolve(__dirname, '../../dist/main.js');

// `node dist/main.js` as an operator runs it (npm test builds dist first), with only the
// variables a test gives it: nothing leaks in from the developer's shell or a .env file.
export class ServiceProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  }

  static start(env: Record<string, string | undefined>, cwd: string, main = MAIN): ServiceProcess {
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build (npm test does)`);
    const child = spawn(process.execPath, [main], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  // Resolves with the first /health status; throws when the process exits or the deadline passes.
  async waitForHealth(port: number, deadlineMs: number): Promise<number> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      if (!this.running) throw new Error(`the service exited before answering:\n${this.stderr}\n${this.stdout}`);
      const status = await fetch(`http://127.0.0.1:${port}/health`).then(
        (res) => res.status,
        () => undefined,
      );
      if (status !== undefined) return status;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no answer on /health within ${deadlineMs} ms:\n${this.stderr}\n${this.stdout}`);
  }

  async exit(deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the service did not exit within ${deadlineMs} ms:\n${this.stderr}`)), deadlineMs);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// The built server on a database of its own, with an admin and a fresh JWT secret, answering
// /health: what the log specs read the output of. `env` adds (or overrides) variables.
export async function startServiceOn(
  databaseUrl: string,
  options: { logLevel: string; adminEmail: string; adminPassword: string; env?: Record<string, string> },
): Promise<{ server: ServiceProcess; port: number }> {
  const port = await freePort();
  const server = ServiceProcess.start(
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: options.logLevel,
      JWT_SECRET: randomBytes(32).toString('hex'),
      ADMIN_EMAIL: options.adminEmail,
      ADMIN_PASSWORD: options.adminPassword,
      ...options.env,
    },
    process.cwd(),
  );
  const status = await server.waitForHealth(port, 20000);
  if (status !== 200) throw new Error(`the server answered /health with ${status}`);
  return { server, port };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

// The embedded server's process id while it holds the data directory, else undefined.
export function postmasterPid(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return isAlive(pid) ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
