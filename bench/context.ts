import type { Pool } from 'pg';
import type { Repository } from 'typeorm';
import type { AppConfig } from '../src/config/app-config';
import type { UserEntity } from '../src/users/user.entity';
import type { UsersRepository } from '../src/users/users.repository';
import type { SentStatement } from '../test/support/statement-capture';

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
  // How long the boilerplate side of one row may take over all its runs (one run at least).
  boilerplateSeconds: number;
  // Only these groups of rows, when given.
  only?: string[];
}

// What the bench's reference routes answer with, set by the HTTP rows before they load them.
export interface ReferenceRoutes {
  // The server's answer to GET /users/:id for the cache-hit user, which the fixed-JSON route echoes.
  fixedBody: object;
  // The repository's by-id statement as a cache miss sent it, and the id it was sent for (the
  // route sends it with its own id in that place).
  userById?: { statement: SentStatement; id: string };
}

export interface BenchContext {
  options: BenchOptions;
  config: AppConfig;
  // Bare pg on the same database: where the reference side of the query rows replays our SQL.
  bare: Pool;
  users: UsersRepository;
  // The boilerplate side: TypeORM's Repository of the same entity, on the app's data source.
  boilerplate: Repository<UserEntity>;
  baseUrl: string;
  hasRoute(method: 'GET' | 'POST', url: string): boolean;
  routes: ReferenceRoutes;
  // Every seeded user has this password; hashedPassword is its argon2id hash at the app's cost.
  password: string;
  hashedPassword: string;
  adminEmail: string;
  adminPassword: string;
  workDir: string;
}
