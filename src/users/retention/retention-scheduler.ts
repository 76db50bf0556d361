import { Injectable, Logger, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { randomUUID } from 'node:crypto';
import { RetentionPolicy } from './retention-policy.service';

// Runs the retention policy on its schedule, when the policy has a step. The job is a CronJob of
// the `cron` package that @nestjs/schedule is built on, created here rather than through
// ScheduleModule.forRoot(): that module is global and its explorer mounts every @Cron method of
// the whole app, so a second copy (the host's own, and this module's) would run the host's jobs
// twice. When the host has imported ScheduleModule, the job is also registered in its
// SchedulerRegistry (the host can list or stop it there); either way it is stopped here, before
// the module's connections close, after the run in progress ends.
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Retention');
  private readonly name = `nest-users-retention-${randomUUID()}`;
  private job?: CronJob;

  constructor(
    private readonly policy: RetentionPolicy,
    @Optional() private readonly registry?: SchedulerRegistry,
  ) {}

  get scheduled(): boolean {
    return this.job?.isActive === true;
  }

  onApplicationBootstrap(): void {
    if (!this.policy.enabled) return;
    this.job = CronJob.from({
      cronTime: this.policy.policy.schedule,
      timeZone: 'UTC',
      onTick: () => this.tick(),
      start: true,
      // A tick that comes while a run is still going is skipped, not stacked.
      waitForCompletion: true,
      // The job alone does not keep the process alive.
      unrefTimeout: true,
      name: this.name,
    });
    this.registry?.addCronJob(this.name, this.job);
  }

  async onModuleDestroy(): Promise<void> {
    const job = this.job;
    this.job = undefined;
    if (!job) return;
    if (this.registry?.doesExist('cron', this.name)) this.registry.deleteCronJob(this.name);
    await job.stop();
  }

  private async tick(): Promise<void> {
    try {
      const report = await this.policy.run({ dryRun: false });
      if (report.skipped) this.logger.debug('retention run skipped: another instance holds the lock');
    } catch (error) {
      this.logger.error({ msg: 'retention run failed', err: error });
    }
  }
}
