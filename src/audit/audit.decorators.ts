import { applyDecorators, SetMetadata } from '@nestjs/common';

export const AUDIT_ACTION = 'audit:action';
export const AUDIT_BY_HANDLER = 'audit:byHandler';

// Names the audit action of a mutating route (a stable name such as `user.update`). The audit
// interceptor runs the handler in one transaction with the request's success row, so that the
// change and its audit row commit together; a failure is audited by the errors filter.
export const Audited = (action: string) => SetMetadata(AUDIT_ACTION, action);

// For the routes that must not hold a transaction across their whole handler: the handler does
// its slow work first (argon2) and then commits its change with the success row itself, through
// RequestAuditor.commitWith (or, for login, in the short transaction that records the login; for
// export, on the COPY's connection before the first byte). Failures are audited by the errors
// filter as for @Audited.
export const AuditedByHandler = (action: string) => applyDecorators(SetMetadata(AUDIT_ACTION, action), SetMetadata(AUDIT_BY_HANDLER, true));
