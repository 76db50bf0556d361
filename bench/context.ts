import type { Pool } from 'pg';
import type { AppConfig } from '../src/config/app-config';
import type { UsersRepository } from '../src/users/users.repository';

export interface BenchOptions {
  users: number;
  smoke: boolean;
  // Runs per side of every row; each row reports the median, min and max over them.
  runs: number;
  httpSeconds: number;
  connections: number;
  bulkRows: number;
  // Calls per run for the single-query rows (pages, counts, signups).
  iterations: number;
  // Only these groups of rows, when given.
  only?: string[];
}

// The server's answer to GET /users/:id for the cache-hit user, which the fixed-JSON route echoes.
export interface FixedBody {
  body: object;
}

export interface BenchContext {
  options: BenchOptions;
  config: AppConfig;
  // Bare pg on the same database: the reference side of the non-HTTP rows.
  bare: Pool;
  users: UsersRepository;
  baseUrl: string;
  hasRoute(method: 'GET' | 'POST', url: string): boolean;
  fixed: FixedBody;
  // Every seeded user has this password; hashedPassword is its argon2id hash at the app's cost.
  password: string;
  hashedPassword: string;
  adminEmail: string;
  adminPassword: string;
  workDir: string;
}
