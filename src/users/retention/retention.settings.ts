// The retention policy (README "Dormant accounts and retention"), with its defaults filled in.
// A step left out (null) never runs; with no step at all there is no scheduled job.
export interface RetentionSettings {
  warnAfterDays: number | null;
  deactivateAfterDays: number | null;
  anonymizeAfterDays: number | null;
  // A cron expression (5 fields, or 6 with seconds first), in UTC.
  schedule: string;
  // Users changed per transaction, and ids listed per step in a report.
  batchSize: number;
}

// The longest inactivity a dormant-user query or a retention step takes: a hundred years.
export const MAX_INACTIVE_DAYS = 36_500;

export const DEFAULT_RETENTION_SCHEDULE = '0 * * * *';
export const DEFAULT_RETENTION_BATCH_SIZE = 500;

export type RetentionStepName = 'warn' | 'deactivate' | 'anonymize';

// The steps of a policy that are set, in the order a user goes through them.
export function retentionSteps(settings: RetentionSettings): { name: RetentionStepName; afterDays: number }[] {
  const steps: [RetentionStepName, number | null][] = [
    ['warn', settings.warnAfterDays],
    ['deactivate', settings.deactivateAfterDays],
    ['anonymize', settings.anonymizeAfterDays],
  ];
  return steps.flatMap(([name, afterDays]) => (afterDays === null ? [] : [{ name, afterDays }]));
}
