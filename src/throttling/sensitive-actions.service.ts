import { Injectable } from '@nestjs/common';

// Per-user, per-action rate limits in the throttler's storage. (Being implemented; see issue 3.)
@Injectable()
export class SensitiveActions {
  sensitiveUserAction(_userId: string, _action: string): Promise<void> {
    throw new Error('sensitiveUserAction is not implemented yet');
  }
}
