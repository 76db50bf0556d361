import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';

// Access tokens are bound to a random per-row epoch besides the version. A version restarts at 1
// when a user row is created again with the same id (hard delete, then import), so it cannot
// tell the new account from the old one; an epoch drawn at insert never repeats. It is rotated
// whenever a credential changes, and by logout. Existing rows get one from the default.
export class TokenEpoch1764900000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('TokenEpoch1764900000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`ALTER TABLE ${t.users} ADD "token_epoch" uuid NOT NULL DEFAULT gen_random_uuid()`);
    // In the database, so that no write path (single, bulk, import, upsert, erasure) can forget it.
    await db.query(`
      CREATE FUNCTION ${t.qualified('users_rotate_token_epoch')}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.token_epoch := gen_random_uuid();
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER ${t.object('TRG_users_rotate_token_epoch')} BEFORE UPDATE OF hashed_password, is_active, roles, deleted_at ON ${t.users}
      FOR EACH ROW WHEN (OLD.hashed_password IS DISTINCT FROM NEW.hashed_password OR OLD.is_active IS DISTINCT FROM NEW.is_active
                         OR OLD.roles IS DISTINCT FROM NEW.roles OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
      EXECUTE FUNCTION ${t.qualified('users_rotate_token_epoch')}()`);
  }

  async down(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`DROP TRIGGER ${t.object('TRG_users_rotate_token_epoch')} ON ${t.users}`);
    await db.query(`DROP FUNCTION ${t.qualified('users_rotate_token_epoch')}()`);
    await db.query(`ALTER TABLE ${t.users} DROP COLUMN "token_epoch"`);
  }
}
