import { randomUUID } from 'node:crypto';
import { Db } from '../../src/database/db.service';
import { hashPassword } from '../../src/users/password';
import type { NewUser, User } from '../../src/users/user.model';
import type { UsersRepository } from '../../src/users/users.repository';
import type { RepositoryContext } from './repository-context';

let counter = 0;

// An address no other test in the run uses, so tests in one file never collide.
export function uniqueEmail(prefix = 'user', domain = 'example.com'): string {
  counter += 1;
  return `${prefix}-${counter}-${randomUUID().slice(0, 8)}@${domain}`;
}

// One real argon2id hash, computed once per file: factories store it instead of paying ~50 ms
// of hashing per user.
let factoryHash: Promise<string> | undefined;
export const FACTORY_PASSWORD = 'factory-password';
export function factoryPasswordHash(): Promise<string> {
  factoryHash ??= hashPassword(FACTORY_PASSWORD);
  return factoryHash;
}

export type UserOverrides = Omit<NewUser, 'email'> & { email?: string };

// One user through the repository's own bulk path (no plaintext, so no hashing cost).
export async function createUser(users: UsersRepository, overrides: UserOverrides = {}): Promise<User> {
  const { password, ...rest } = overrides;
  const hashed = password === undefined ? { hashedPassword: overrides.hashedPassword ?? (await factoryPasswordHash()) } : { password };
  const [user] = await users.bulkCreateUsers([{ email: uniqueEmail(), ...rest, ...hashed }]);
  return user;
}

export interface SeedOptions {
  // Becomes `<prefix>-<n>@seed.example.com` and full name `<namePrefix> <n>`.
  prefix?: string;
  namePrefix?: string;
  isActive?: boolean;
  deleted?: boolean;
  roles?: string[];
  metadata?: Record<string, unknown>;
  // SQL expression for created_at; `n` is the row number (1..count). Default: one shared now().
  createdAtSql?: string;
}

// Volume data in one INSERT ... SELECT generate_series statement; returns the ids, newest first
// by (created_at, id) as the repository orders them.
export async function seedUsers(ctx: RepositoryContext, count: number, options: SeedOptions = {}): Promise<string[]> {
  const prefix = options.prefix ?? `seed-${randomUUID().slice(0, 8)}`;
  const rows = await ctx.sql<{ id: string }>(
    `INSERT INTO users (email, email_normalized, full_name, hashed_password, is_active, is_deleted, deleted_at, roles, metadata, created_at, updated_at)
     SELECT $1::text || '-' || n || '@seed.example.com', lower($1::text || '-' || n || '@seed.example.com'), $2::text || ' ' || n, $3::text,
            $4::boolean, $5::boolean, CASE WHEN $5::boolean THEN now() END, $6::text[], $7::jsonb, ${options.createdAtSql ?? 'now()'}, now()
     FROM generate_series(1, $8::int) AS n
     RETURNING id, created_at`,
    [
      prefix,
      options.namePrefix ?? 'Seed User',
      await factoryPasswordHash(),
      options.isActive ?? true,
      options.deleted ?? false,
      options.roles ?? ['user'],
      JSON.stringify(options.metadata ?? {}),
      count,
    ],
  );
  const ordered = await ctx.sql<{ id: string }>(`SELECT id FROM users WHERE id = ANY($1::uuid[]) ORDER BY created_at DESC, id DESC`, [
    rows.map((r) => r.id),
  ]);
  return ordered.map((r) => r.id);
}

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

// Records every statement the repository sends through Db while `work` runs, so a test can
// count round trips or EXPLAIN the exact SQL the repository emitted.
export async function captureQueries<T>(ctx: RepositoryContext, work: () => Promise<T>): Promise<{ result: T; queries: CapturedQuery[] }> {
  const db = ctx.module.get(Db, { strict: false });
  const queries: CapturedQuery[] = [];
  const original = db.query.bind(db);
  const spy = jest.spyOn(db, 'query').mockImplementation((sql: string, params: unknown[] = []) => {
    queries.push({ sql, params });
    return original(sql, params);
  });
  try {
    return { result: await work(), queries };
  } finally {
    spy.mockRestore();
  }
}

// The plan PostgreSQL picks for one captured statement, as text.
export async function explain(ctx: RepositoryContext, query: CapturedQuery, settings: string[] = []): Promise<string> {
  return ctx.dataSource.transaction(async (manager) => {
    for (const setting of settings) await manager.query(`SET LOCAL ${setting}`);
    const rows = await manager.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${query.sql}`, query.params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}
