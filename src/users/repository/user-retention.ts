import { Injectable } from '@nestjs/common';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { BUMP_VERSION } from '../user-row';
import { UserStore } from './user-store';

// Which dormant users a retention step is due for. Every step takes live users not seen for
// `afterDays` and holding none of `excludeRoles`; `requires` is what the previous steps of the
// policy must have done first: the warning sent at least `warnedDaysAgo` days ago, unless
// (`orInactive`) the user is deactivated already.
export interface RetentionCandidates {
  step: 'warn' | 'deactivate' | 'anonymize';
  afterDays: number;
  excludeRoles: readonly string[];
  requires?: { warnedDaysAgo: number; orInactive?: boolean };
  // Leaves out users not seen for this many days or more (a later step's, which takes them).
  beforeDays?: number;
}

// The retention policy's set-based SQL: which users a step is due for, and the warning and the
// deactivation of a batch of them, each one statement that also writes the events. Each walks
// IDX_users_live_last_seen, longest unseen first. The policy (RetentionPolicy) decides the rest.
@Injectable()
export class UserRetention {
  constructor(
    private readonly db: Db,
    private readonly store: UserStore,
    private readonly t: TableNames,
  ) {}

  // The first `limit` users the step is due for, longest unseen first.
  async dueIds(candidates: RetentionCandidates, limit: number): Promise<string[]> {
    const { where, params } = this.due(candidates, 'c');
    const rows = await this.db.read<{ id: string }>(
      `SELECT c.id FROM ${this.t.users} c WHERE ${where} ORDER BY ${lastSeen('c')}, c.id LIMIT $${params.length + 1}`,
      [...params, limit],
    );
    return rows.map((r) => r.id);
  }

  async countDue(candidates: RetentionCandidates): Promise<number> {
    const { where, params } = this.due(candidates, 'c');
    const [{ count }] = await this.db.read<{ count: string }>(`SELECT count(*) FROM ${this.t.users} c WHERE ${where}`, params);
    return Number(count);
  }

  // Marks up to `limit` due users warned, with a user.dormant event each (no version bump: nothing
  // a client or a token relies on changed). Rows another transaction holds are skipped, not waited for.
  async warn(candidates: RetentionCandidates, limit: number): Promise<string[]> {
    const { sql, params } = this.pick(candidates, limit);
    const rows = await this.store.write(
      `UPDATE ${this.t.users} u SET dormant_warned_at = now() FROM (${sql}) picked WHERE u.id = picked.id RETURNING u.id, u.version`,
      params,
      { type: 'user.dormant', fields: [] },
    );
    return rows.map((r) => r.id);
  }

  // deactivateUser for up to `limit` due users at once: the same change, event and cache
  // invalidation, in one statement.
  async deactivate(candidates: RetentionCandidates, limit: number): Promise<string[]> {
    const { sql, params } = this.pick(candidates, limit);
    const rows = await this.store.write(
      `UPDATE ${this.t.users} u SET is_active = false, ${BUMP_VERSION} FROM (${sql}) picked WHERE u.id = picked.id AND u.is_active RETURNING u.id, u.version`,
      params,
      { type: 'user.deactivated', fields: ['isActive'] },
    );
    return rows.map((r) => r.id);
  }

  // Locks the user's row if the step is still due for it (the caller's transaction then changes
  // it): a user who logged in, or was made an admin, since it was listed is left alone.
  async lockIfDue(candidates: RetentionCandidates, id: string): Promise<boolean> {
    const { where, params } = this.due(candidates, 'c');
    const rows = await this.db.query(`SELECT 1 FROM ${this.t.users} c WHERE c.id = $${params.length + 1} AND ${where} FOR UPDATE`, [...params, id]);
    return rows.length > 0;
  }

  private pick(candidates: RetentionCandidates, limit: number): { sql: string; params: unknown[] } {
    const { where, params } = this.due(candidates, 'c');
    return {
      sql: `SELECT c.id FROM ${this.t.users} c WHERE ${where} ORDER BY ${lastSeen('c')}, c.id LIMIT $${params.length + 1} FOR UPDATE SKIP LOCKED`,
      params: [...params, limit],
    };
  }

  private due(candidates: RetentionCandidates, alias: string): { where: string; params: unknown[] } {
    const params: unknown[] = [candidates.afterDays, [...candidates.excludeRoles]];
    const conditions = [
      `${alias}.deleted_at IS NULL`,
      `${lastSeen(alias)} < now() - make_interval(days => $1::int)`,
      `NOT (${alias}.roles && $2::text[])`,
    ];
    if (candidates.beforeDays !== undefined) conditions.push(`${lastSeen(alias)} >= now() - make_interval(days => $${params.push(candidates.beforeDays)}::int)`);
    // A deactivated user is not warned (it cannot log in to act on a warning): past the
    // anonymization step it is erased without one, once.
    if (candidates.step === 'warn') conditions.push(`${alias}.dormant_warned_at IS NULL`, `${alias}.is_active`);
    if (candidates.step === 'deactivate') conditions.push(`${alias}.is_active`);
    const requires = candidates.requires;
    if (requires) {
      const warned = `${alias}.dormant_warned_at <= now() - make_interval(days => $${params.push(requires.warnedDaysAgo)}::int)`;
      conditions.push(requires.orInactive ? `(NOT ${alias}.is_active OR ${warned})` : warned);
    }
    return { where: conditions.join(' AND '), params };
  }
}

// As IDX_users_live_last_seen spells it, so that the planner matches the index.
function lastSeen(alias: string): string {
  return `COALESCE(${alias}.last_login_at, ${alias}.created_at)`;
}
