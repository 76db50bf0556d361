import { Injectable } from '@nestjs/common';
import { PERSONAL_KEYS } from '../../audit/audit-details';
import { AuditLog } from '../../audit/audit-log.service';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UserNotFoundError } from '../users.errors';
import { isUuid } from '../../common/paging';
import { UserStore } from './user-store';
import { UNUSABLE_PASSWORD } from '../user-rules';
import { BUMP_VERSION } from '../user-row';

// `.invalid` is reserved (RFC 2606): the placeholder can never route mail, and the id keeps it
// unique per user.
export function anonymizedEmail(id: string): string {
  return `anonymized+${id}@anonymized.invalid`;
}

// What an erasure writes, as its event names it (the event never carries the old values).
const ERASED_FIELDS = ['email', 'fullName', 'metadata', 'password', 'lastLoginAt', 'isActive', 'deletedAt', 'isDeleted'];

interface PersonalData {
  email: string;
  email_normalized: string;
  full_name: string | null;
  anonymized: boolean;
}

// GDPR erasure. Irreversible, and idempotent: anonymizing an anonymized user changes nothing,
// so a retried erasure request succeeds instead of failing.
@Injectable()
export class UserPrivacy {
  constructor(
    private readonly db: Db,
    private readonly store: UserStore,
    private readonly audit: AuditLog,
    private readonly t: TableNames,
  ) {}

  async anonymizeUser(id: string): Promise<void> {
    if (!isUuid(id)) throw new UserNotFoundError(id);
    await this.db.transaction(async () => {
      const [before] = await this.db.query<PersonalData>(
        `SELECT email, email_normalized, full_name, anonymized_at IS NOT NULL AS anonymized FROM ${this.t.users} WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (!before) throw new UserNotFoundError(id);
      if (before.anonymized) return;
      const version = await this.eraseUser(id);
      await this.scrubAuditHistory(id, before);
      // A destination's error text about this user's events may quote what it was sent to.
      await this.db.query(`UPDATE ${this.t.outboxDeliveries} SET last_error = 'redacted by an erasure' WHERE user_id = $1 AND last_error IS NOT NULL`, [id]);
      await this.store.invalidate([id]);
      await this.store.recordEvents([{ id, version }], { type: 'user.anonymized', fields: ERASED_FIELDS });
      await this.audit.auditLogUserChange(id, 'user.anonymized', { outcome: 'success' });
    });
  }

  private async eraseUser(id: string): Promise<number> {
    const placeholder = anonymizedEmail(id);
    const [{ version }] = await this.db.query<{ version: number }>(
      `UPDATE ${this.t.users} u SET email = $2, email_normalized = $2, full_name = NULL, metadata = '{}', hashed_password = $3,
         last_login_at = NULL, is_active = false, deleted_at = COALESCE(u.deleted_at, now()), is_deleted = true,
         anonymized_at = now(), ${BUMP_VERSION}
       WHERE u.id = $1 RETURNING u.version`,
      [id, placeholder, UNUSABLE_PASSWORD],
    );
    return version;
  }

  // Audit details are allow-listed, so they should hold no personal data; this makes sure. Free
  // text and client addresses go, and a row that still mentions the old email or name (a legacy
  // or hand-written row) keeps only a redaction marker.
  private async scrubAuditHistory(id: string, before: PersonalData): Promise<void> {
    const needles = [before.email, before.email_normalized, before.full_name]
      .filter((value): value is string => !!value && value.trim() !== '')
      // Matched against jsonb's text form, where quotes and backslashes are escaped.
      .map((value) => JSON.stringify(value.toLowerCase()).slice(1, -1));
    await this.db.query(
      `UPDATE ${this.t.auditLog} a SET details = CASE WHEN s.mentions THEN '{"redacted": true}'::jsonb ELSE a.details - $2::text[] END
       FROM (SELECT id, EXISTS (SELECT 1 FROM unnest($3::text[]) AS n WHERE strpos(lower((details - $2::text[])::text), n) > 0) AS mentions
             FROM ${this.t.auditLog} WHERE user_id = $1) s
       WHERE a.id = s.id AND (s.mentions OR a.details ?| $2::text[])`,
      [id, PERSONAL_KEYS, [...new Set(needles)]],
    );
  }
}
