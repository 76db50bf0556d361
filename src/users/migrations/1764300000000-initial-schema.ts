import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';
import { trigramOperatorClass } from './pg-trgm';

export class InitialSchema1764300000000 implements MigrationInterface {
  readonly name: string;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('InitialSchema1764300000000');
  }

  async up(db: QueryRunner): Promise<void> {
    const t = this.t;
    await db.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    if (t.schema !== undefined) await db.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
    const trgm = await trigramOperatorClass(db);
    await db.query(`
      CREATE TABLE ${t.users} (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "email" text NOT NULL,
        "email_normalized" text NOT NULL,
        "full_name" text,
        "hashed_password" text NOT NULL,
        "is_active" boolean NOT NULL DEFAULT true,
        "is_deleted" boolean NOT NULL DEFAULT false,
        "deleted_at" TIMESTAMP WITH TIME ZONE,
        "roles" text array NOT NULL DEFAULT '{user}',
        "metadata" jsonb NOT NULL DEFAULT '{}',
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "last_login_at" TIMESTAMP WITH TIME ZONE,
        "anonymized_at" TIMESTAMP WITH TIME ZONE,
        "version" integer NOT NULL DEFAULT 1,
        CONSTRAINT ${t.object('CHK_users_deleted_consistent')} CHECK ("is_deleted" = ("deleted_at" IS NOT NULL)),
        CONSTRAINT ${t.object('PK_users')} PRIMARY KEY ("id")
      )`);
    // A soft-deleted user frees its email; restoring checks that nobody took it meanwhile.
    await db.query(`CREATE UNIQUE INDEX ${t.object('UQ_users_email_normalized_live')} ON ${t.users} ("email_normalized") WHERE (deleted_at IS NULL)`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_created_at_id')} ON ${t.users} ("created_at", "id")`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_live_created_at_id')} ON ${t.users} ("created_at", "id") WHERE (deleted_at IS NULL)`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_live_active_created_at_id')} ON ${t.users} ("is_active", "created_at", "id") WHERE (deleted_at IS NULL)`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_last_login_at')} ON ${t.users} ("last_login_at")`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_email_trgm')} ON ${t.users} USING gin ("email" ${trgm})`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_full_name_trgm')} ON ${t.users} USING gin ("full_name" ${trgm})`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_roles')} ON ${t.users} USING gin ("roles")`);
    await db.query(`CREATE INDEX ${t.object('IDX_users_metadata')} ON ${t.users} USING gin ("metadata" jsonb_path_ops)`);

    await db.query(`
      CREATE TABLE ${t.files} (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "user_id" uuid NOT NULL,
        "filename" text NOT NULL,
        "content_type" text NOT NULL,
        "size_bytes" bigint NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT ${t.object('PK_files')} PRIMARY KEY ("id"),
        CONSTRAINT ${t.object('FK_files_user_id')} FOREIGN KEY ("user_id") REFERENCES ${t.users}("id") ON DELETE CASCADE ON UPDATE NO ACTION
      )`);
    await db.query(`CREATE INDEX ${t.object('IDX_files_user_id_created_at')} ON ${t.files} ("user_id", "created_at")`);

    await db.query(`
      CREATE TABLE ${t.auditLog} (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "user_id" uuid,
        "actor_id" uuid,
        "action" text NOT NULL,
        "details" jsonb NOT NULL DEFAULT '{}',
        "request_id" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT ${t.object('PK_audit_log')} PRIMARY KEY ("id")
      )`);
    await db.query(`CREATE INDEX ${t.object('IDX_audit_log_user_id_created_at')} ON ${t.auditLog} ("user_id", "created_at")`);
  }

  // The schema stays: the host may keep other tables in it.
  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE ${this.t.auditLog}`);
    await db.query(`DROP TABLE ${this.t.files}`);
    await db.query(`DROP TABLE ${this.t.users}`);
  }
}
