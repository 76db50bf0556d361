import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { QueryBool } from '../../validation/decorators';
import type { RetentionReport } from './retention-policy.service';
import type { RetentionSettings } from './retention.settings';

export class RetentionPolicyDto {
  @ApiProperty({ description: 'Whether any step is set (a scheduled job runs only then)' }) enabled!: boolean;
  @ApiPropertyOptional({ type: 'integer', nullable: true, description: 'Days without a login before user.dormant' }) warnAfterDays!: number | null;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) deactivateAfterDays!: number | null;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) anonymizeAfterDays!: number | null;
  @ApiProperty({ description: 'Cron expression, UTC' }) schedule!: string;
  @ApiProperty({ type: 'integer' }) batchSize!: number;
}

export class RetentionCountsDto {
  @ApiProperty({ type: 'integer' }) warned!: number;
  @ApiProperty({ type: 'integer' }) deactivated!: number;
  @ApiProperty({ type: 'integer' }) anonymized!: number;
}

export class RetentionReportDto {
  @ApiProperty() dryRun!: boolean;
  @ApiProperty({ description: 'Another run held the lock; nothing was done' }) skipped!: boolean;
  @ApiProperty({ type: [String], description: 'Ids, at most batchSize' }) warned!: string[];
  @ApiProperty({ type: [String] }) deactivated!: string[];
  @ApiProperty({ type: [String] }) anonymized!: string[];
  @ApiProperty({ type: RetentionCountsDto }) counts!: RetentionCountsDto;
}

export class RetentionRunQueryDto {
  @QueryBool('Required: true reports what a run would do and changes nothing') dryRun?: boolean;
}

export function toRetentionPolicy(policy: RetentionSettings, enabled: boolean): RetentionPolicyDto {
  return {
    enabled,
    warnAfterDays: policy.warnAfterDays,
    deactivateAfterDays: policy.deactivateAfterDays,
    anonymizeAfterDays: policy.anonymizeAfterDays,
    schedule: policy.schedule,
    batchSize: policy.batchSize,
  };
}

export function toRetentionReport(report: RetentionReport): RetentionReportDto {
  return {
    dryRun: report.dryRun,
    skipped: report.skipped,
    warned: report.warned,
    deactivated: report.deactivated,
    anonymized: report.anonymized,
    counts: { ...report.counts },
  };
}
