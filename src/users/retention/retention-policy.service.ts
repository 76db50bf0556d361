import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AuditLog } from '../../audit/audit-log.service';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UserPrivacy } from '../repository/user-privacy';
import { UserRetention, type RetentionCandidates } from '../repository/user-retention';
import { UsersSettings } from '../users.options';
import { retentionSteps, type RetentionSettings, type RetentionStepName } from './retention.settings';

export interface RetentionReport {
  dryRun: boolean;
  // Another run (another instance's, most likely) held the lock: this one did nothing.
  skipped: boolean;
  // The users each step changed (or, in a dry run, would change), at most batchSize listed each.
  warned: string[];
  deactivated: string[];
  anonymized: string[];
  // How many users each step changed (would change), listed or not.
  counts: Record<'warned' | 'deactivated' | 'anonymized', number>;
}

const REPORTED: Record<RetentionStepName, 'warned' | 'deactivated' | 'anonymized'> = { warn: 'warned', deactivate: 'deactivated', anonymize: 'anonymized' };

// One lock per users table: instances on one table take turns, other namings run independently.
export function retentionLockKey(t: TableNames): string {
  return createHash('sha256').update(`nest-users retention ${t.users}`).digest().readBigInt64BE(0).toString();
}

// The retention policy for dormant users (README "Dormant accounts and retention"): warn, then
// deactivate, then anonymize users not seen for so many days. Admins (holders of an adminRoles
// role) are never touched, so the last-admin guardrail cannot be broken by a run.
//
// A run holds a session-level advisory lock, so instances never run it at once (a run that finds
// it taken does nothing), and works in batches, each step's change, events and audit rows in one
// transaction. With a warning in the policy, a later step is due only once the warning is at least
// the difference of their days old (the notice it announced); anonymization also takes users
// deactivated already. The steps run last first, and no step makes a user due for an earlier one:
// a dry run reports exactly what a run would do now, and a second run right after finds nothing.
@Injectable()
export class RetentionPolicy {
  private readonly logger = new Logger('Retention');

  constructor(
    private readonly settings: UsersSettings,
    private readonly db: Db,
    private readonly retention: UserRetention,
    private readonly privacy: UserPrivacy,
    private readonly audit: AuditLog,
    private readonly t: TableNames,
  ) {}

  get policy(): RetentionSettings {
    return this.settings.retention;
  }

  get enabled(): boolean {
    return retentionSteps(this.policy).length > 0;
  }

  async run(options: { dryRun: boolean }): Promise<RetentionReport> {
    const report: RetentionReport = { dryRun: options.dryRun, skipped: false, warned: [], deactivated: [], anonymized: [], counts: { warned: 0, deactivated: 0, anonymized: 0 } };
    if (!this.enabled) return report;
    const lock = retentionLockKey(this.t);
    return this.db.withSession(async (session) => {
      const [{ locked }] = await session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock($1::bigint) AS locked`, [lock]);
      if (!locked) return { ...report, skipped: true };
      try {
        for (const step of this.steps().reverse()) {
          const { count, ids } = options.dryRun ? await this.preview(step) : await this.apply(step);
          report[REPORTED[step.step]] = ids;
          report.counts[REPORTED[step.step]] = count;
        }
      } finally {
        // Releasing the session resets it (and drops the lock) even if this fails.
        await session.query(`SELECT pg_advisory_unlock($1::bigint)`, [lock]);
      }
      if (!options.dryRun && Object.values(report.counts).some((n) => n > 0)) this.logger.log({ msg: 'retention run', counts: report.counts });
      return report;
    });
  }

  // The policy's steps, each with what the earlier ones must have done first. A user past the
  // anonymization who is still active goes straight to it (erasure deactivates too) once the
  // deactivation's notice is over, as a run that deactivated it would then erase it at once.
  // The deactivation leaves those users to it.
  private steps(): RetentionCandidates[] {
    const { warnAfterDays: warn, deactivateAfterDays: deactivate, anonymizeAfterDays: anonymize } = this.policy;
    return retentionSteps(this.policy).map((step) => {
      const candidates: RetentionCandidates = { step: step.name, afterDays: step.afterDays, excludeRoles: this.settings.adminRoles };
      if (step.name === 'deactivate' && warn !== null) candidates.requires = { warnedDaysAgo: step.afterDays - warn };
      if (step.name === 'deactivate' && anonymize !== null) candidates.beforeDays = anonymize;
      if (step.name === 'anonymize' && warn !== null) {
        candidates.requires = deactivate === null ? { warnedDaysAgo: step.afterDays - warn } : { warnedDaysAgo: deactivate - warn, orInactive: true };
      }
      return candidates;
    });
  }

  private async preview(step: RetentionCandidates): Promise<{ count: number; ids: string[] }> {
    const [count, ids] = await Promise.all([this.retention.countDue(step), this.retention.dueIds(step, this.policy.batchSize)]);
    return { count, ids };
  }

  // Batch after batch until the step is due for nobody (rows another transaction holds are left
  // for the next run).
  private async apply(step: RetentionCandidates): Promise<{ count: number; ids: string[] }> {
    const size = this.policy.batchSize;
    const ids: string[] = [];
    let count = 0;
    for (;;) {
      const { picked, changed } = step.step === 'anonymize' ? await this.anonymizeBatch(step) : await this.updateBatch(step);
      count += changed.length;
      ids.push(...changed.slice(0, size - ids.length));
      if (picked < size || changed.length === 0) return { count, ids };
    }
  }

  private async updateBatch(step: RetentionCandidates): Promise<{ picked: number; changed: string[] }> {
    const size = this.policy.batchSize;
    const changed = await this.db.transaction(async () => {
      const ids = step.step === 'warn' ? await this.retention.warn(step, size) : await this.retention.deactivate(step, size);
      if (ids.length) await this.audit.auditLogRequest(ids, `retention.${step.step}`, { afterDays: step.afterDays, outcome: 'success' });
      return ids;
    });
    return { picked: changed.length, changed };
  }

  // An erasure is per user by design (it scrubs the user's audit history): one transaction each,
  // that first checks, under the row's lock, that the user is still due.
  private async anonymizeBatch(step: RetentionCandidates): Promise<{ picked: number; changed: string[] }> {
    const due = await this.retention.dueIds(step, this.policy.batchSize);
    const changed: string[] = [];
    for (const id of due) {
      const done = await this.db.transaction(async () => {
        if (!(await this.retention.lockIfDue(step, id))) return false;
        await this.privacy.anonymizeUser(id);
        await this.audit.auditLogRequest([id], 'retention.anonymize', { afterDays: step.afterDays, outcome: 'success' });
        return true;
      });
      if (done) changed.push(id);
    }
    return { picked: due.length, changed };
  }
}
