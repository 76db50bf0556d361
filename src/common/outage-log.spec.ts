import type { Logger } from '@nestjs/common';
import { OutageLog } from './outage-log';

describe('OutageLog', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('logs an outage when it starts, at most once a minute while it lasts, and when it ends', () => {
    const lines: string[] = [];
    const log = new OutageLog({ warn: (line: string) => lines.push(line) } as unknown as Logger, 'redis');
    log.succeeded();
    for (let second = 0; second < 150; second++) {
      for (let call = 0; call < 100; call++) log.failed(new Error('connection refused'), 'reading through');
      jest.advanceTimersByTime(1000);
    }
    log.succeeded();
    log.succeeded();
    expect(lines).toEqual([
      'redis unavailable (connection refused); reading through',
      'redis still unavailable after 60 s, 6001 failed calls (connection refused); reading through',
      'redis still unavailable after 120 s, 12001 failed calls (connection refused); reading through',
      'redis available again after 150 s, 15000 failed calls',
    ]);
  });
});
