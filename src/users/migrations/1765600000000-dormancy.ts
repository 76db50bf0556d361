import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';

// When a live user was last seen: its last login, or its creation if it never logged in. The
// dormant-account reads and the retention policy order and filter on exactly this expression.
export const LAST_SEEN = 'COALESCE(last_login_at, created_at)';

// Dormant accounts and the retention policy (README "Dormant accounts and retention"):
// - an index on (last seen, id) over live users, which serves the dormant list (a keyset walk,
//   oldest first), its count and every retention step. It includes the two columns last seen is
//   made of: PostgreSQL reads an expression index alone (an index-only scan) only when it holds the
//   columns the expression uses, and a count of dormant users is often a large share of them;

// - `dormant_warned_at`, when the retention policy warned the user of the current dormancy
//   period (`user.dormant`), so that a user is warned once per period.
// A login or a reactivation ends the period and clears it. That is a trigger, not SQL in the
// writes: a login is one write path, but a reactivation has five (reactivate, PATCH isActive,
// bulk update, upsert and import defaults), and like search_text no path may leave it stale.
export class Dormancy1765600000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('Dormancy1765600000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`ALTER TABLE ${t.users} ADD "dormant_warned_at" TIMESTAMP WITH TIME ZONE`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_live_last_seen')} ON ${t.users} ((${LAST_SEEN}), "id") INCLUDE ("last_login_at", "created_at") WHERE (deleted_at IS NULL)`);
    await db.query(`
      CREATE FUNCTION ${t.qualified('users_dormancy_reset')}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.dormant_warned_at := NULL;
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER ${t.object('TRG_users_dormancy_reset')} BEFORE UPDATE OF last_login_at, is_active ON ${t.users}
      FOR EACH ROW WHEN (NEW.dormant_warned_at IS NOT NULL
        AND (NEW.last_login_at IS DISTINCT FROM OLD.last_login_at OR (NEW.is_active AND NOT OLD.is_active)))
      EXECUTE FUNCTION ${t.qualified('users_dormancy_reset')}()`);
  }

  async down(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`DROP TRIGGER ${t.object('TRG_users_dormancy_reset')} ON ${t.users}`);
    await db.query(`DROP FUNCTION ${t.qualified('users_dormancy_reset')}()`);
    // Dropping the column leaves the index, which does not use it.
    await db.query(`DROP INDEX ${t.qualified('IDX_users_live_last_seen')}`);
    await db.query(`ALTER TABLE ${t.users} DROP COLUMN "dormant_warned_at"`);
  }
}
