import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { RepositoryContext } from './repository-context';

// The test-only side of the SQL capture (the capture itself is in statement-capture.ts, which the
// bench shares): the module's pool of a repository context, and a pool made quiet between cases.
export function modulePool(ctx: RepositoryContext): Pool {
  return (ctx.dataSource.driver as PostgresDriver).master as Pool;
}

// Waits until every connection of the pool is back and idle (a COPY's trailing RESET, a session's
// reset), then makes sure `connections` of them exist: concurrent statements (a page's rows and
// count) then get idle connections in call order, not whichever new connection is ready first.
export async function quietPool(pool: Pool, connections: number): Promise<void> {
  for (let attempt = 0; pool.idleCount !== pool.totalCount || pool.waitingCount > 0; attempt++) {
    if (attempt === 200) throw new Error('the pool did not become idle');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (pool.totalCount < connections) await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
}
