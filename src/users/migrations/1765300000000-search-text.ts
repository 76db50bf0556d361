import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';
import { trigramOperatorClass } from './pg-trgm';

// What searches match: the email and the full name, lower-cased, each after a line feed. In a
// UTF-8 database PostgreSQL evaluates `x ILIKE p` as `lower(x) LIKE lower(p)`, so a LIKE on this
// column matches what ILIKE on either column did, without lower-casing both strings again for
// every row a scan reads (that was most of a search's CPU at 1M users). A search term carries no
// control character, so it never matches across a line feed; a line feed also starts the email
// and the name, for prefix matches.
const searchText = (row: string) => `E'\\n' || lower(${row}email) || E'\\n' || coalesce(lower(${row}full_name), '')`;

// The column is written by a trigger, never by the application, so that no write path (single,
// bulk, COPY, import, upsert, erasure) can leave it stale. One trigram index on it replaces the
// two on email and full_name; a covering index lets a common term's page and count walk the
// newest live users without reading the table.
export class SearchText1765300000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('SearchText1765300000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    const trgm = await trigramOperatorClass(db);
    // Added as a generated column and then made a plain one: the table is rewritten once with
    // every value filled in, where an UPDATE would write a second version of every row.
    await db.query(`ALTER TABLE ${t.users} ADD "search_text" text NOT NULL GENERATED ALWAYS AS (${searchText('')}) STORED`);
    await db.query(`ALTER TABLE ${t.users} ALTER COLUMN "search_text" DROP EXPRESSION`);
    await db.query(`
      CREATE FUNCTION ${t.qualified('users_search_text')}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.search_text := ${searchText('NEW.')};
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER ${t.object('TRG_users_search_text')} BEFORE INSERT OR UPDATE OF email, full_name, search_text ON ${t.users}
      FOR EACH ROW EXECUTE FUNCTION ${t.qualified('users_search_text')}()`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_search_trgm')} ON ${t.users} USING gin ("search_text" ${trgm})`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_live_search')} ON ${t.users} ("created_at", "id") INCLUDE ("search_text") WHERE (deleted_at IS NULL)`);
    await db.query(`DROP INDEX ${t.qualified('IDX_users_email_trgm')}`);
    await db.query(`DROP INDEX ${t.qualified('IDX_users_full_name_trgm')}`);
  }

  async down(db: QueryRunner): Promise<void> {
    const t = this.t;
    const trgm = await trigramOperatorClass(db);
    await db.query(`CREATE INDEX ${t.object('IDX_users_email_trgm')} ON ${t.users} USING gin ("email" ${trgm})`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_full_name_trgm')} ON ${t.users} USING gin ("full_name" ${trgm})`);
    await db.query(`DROP TRIGGER ${t.object('TRG_users_search_text')} ON ${t.users}`);
    await db.query(`DROP FUNCTION ${t.qualified('users_search_text')}()`);
    // Dropping the column drops its two indexes.
    await db.query(`ALTER TABLE ${t.users} DROP COLUMN "search_text"`);
  }
}
