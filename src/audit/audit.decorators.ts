import { SetMetadata } from '@nestjs/common';

export const AUDIT_ACTION = 'audit:action';

// Names the audit action of a mutating route (a stable name such as `user.update`); the audit
// interceptor writes one row per request under that name once the outcome is known.
export const Audited = (action: string) => SetMetadata(AUDIT_ACTION, action);
