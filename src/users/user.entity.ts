import { Check, Column, Entity, Generated, Index, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { FileEntity } from './file.entity';

// Mirrors the schema that the migrations create; `npm run migration:generate` must find no
// difference. Trigram and GIN indexes, and the covering index, are declared with synchronize: false
// because TypeORM cannot express their operator classes or INCLUDE; the migrations own them.
@Entity({ name: 'users' })
@Check('CHK_users_deleted_consistent', `"is_deleted" = ("deleted_at" IS NOT NULL)`)
@Index('UQ_users_email_normalized_live', ['emailNormalized'], { unique: true, where: '(deleted_at IS NULL)' })
@Index('IDX_users_created_at_id', ['createdAt', 'id'])
@Index('IDX_users_live_created_at_id', ['createdAt', 'id'], { where: '(deleted_at IS NULL)' })
@Index('IDX_users_live_active_created_at_id', ['isActive', 'createdAt', 'id'], { where: '(deleted_at IS NULL)' })
@Index('IDX_users_last_login_at', ['lastLoginAt'])
@Index('IDX_users_live_last_seen', { synchronize: false })
@Index('IDX_users_search_trgm', { synchronize: false })
@Index('IDX_users_live_search', { synchronize: false })
@Index('IDX_users_roles', { synchronize: false })
@Index('IDX_users_metadata', { synchronize: false })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_users' })
  id!: string;

  @Column({ type: 'text' })
  email!: string;

  @Column({ name: 'email_normalized', type: 'text' })
  emailNormalized!: string;

  @Column({ name: 'full_name', type: 'text', nullable: true })
  fullName!: string | null;

  @Column({ name: 'hashed_password', type: 'text' })
  hashedPassword!: string;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column({ name: 'is_deleted', type: 'boolean', default: false })
  isDeleted!: boolean;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  @Column({ type: 'text', array: true, default: () => `'{user}'` })
  roles!: string[];

  @Column({ type: 'jsonb', default: () => `'{}'` })
  metadata!: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt!: Date | null;

  @Column({ name: 'anonymized_at', type: 'timestamptz', nullable: true })
  anonymizedAt!: Date | null;

  // When the retention policy warned the user of its current dormancy period (user.dormant);
  // cleared by a trigger on a login or a reactivation (see the Dormancy migration).
  @Column({ name: 'dormant_warned_at', type: 'timestamptz', nullable: true })
  dormantWarnedAt!: Date | null;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  // What access tokens are bound to; rotated by a trigger on credential changes (see migration).
  @Column({ name: 'token_epoch', type: 'uuid' })
  @Generated('uuid')
  tokenEpoch!: string;

  // What searches match, written by a trigger (see the SearchText migration), never by the app.
  @Column({ name: 'search_text', type: 'text', select: false, insert: false, update: false })
  searchText!: string;

  @OneToMany(() => FileEntity, (file) => file.user)
  files?: FileEntity[];
}
