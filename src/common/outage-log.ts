import type { Logger } from '@nestjs/common';

// While a dependency is down, each failed call used to log a line (hundreds per second under
// load). This logs the state changes instead: the first failure, a reminder at most every
// `reminderMs` while it lasts (with the count of failed calls), and the recovery.
export class OutageLog {
  private downSince: number | undefined;
  private lastReport = 0;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly reminderMs = 60_000,
  ) {}

  failed(error: unknown, consequence: string): void {
    const now = Date.now();
    this.failures++;
    const reason = error instanceof Error ? error.message : String(error);
    if (this.downSince === undefined) {
      this.downSince = this.lastReport = now;
      this.logger.warn(`${this.what} unavailable (${reason}); ${consequence}`);
    } else if (now - this.lastReport >= this.reminderMs) {
      this.lastReport = now;
      this.logger.warn(`${this.what} still unavailable after ${seconds(now - this.downSince)} s, ${this.failures} failed calls (${reason}); ${consequence}`);
    }
  }

  succeeded(): void {
    if (this.downSince === undefined) return;
    this.logger.warn(`${this.what} available again after ${seconds(Date.now() - this.downSince)} s, ${this.failures} failed calls`);
    this.downSince = undefined;
    this.failures = 0;
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
