import type { QueryRunner } from 'typeorm';

// pg_trgm's GIN operator class, qualified by the extension's schema, which need not be on the
// connection's search_path (some hosted PostgreSQL services install extensions elsewhere).
export async function trigramOperatorClass(db: QueryRunner): Promise<string> {
  const [{ schema }] = (await db.query(
    `SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`,
  )) as { schema: string }[];
  return `${schema}.gin_trgm_ops`;
}
