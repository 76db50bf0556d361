// The catalogue of user lifecycle events (README "Events"). One event per affected user, written to
// the outbox in the transaction of the change it describes. Payloads carry ids and field names,
// never an email, a name, a password, a hash or a token.
export const USER_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.restored',
  'user.hard_deleted',
  'user.deactivated',
  'user.reactivated',
  'user.password_changed',
  'user.sessions_ended',
  'user.role_assigned',
  'user.role_revoked',
  'user.anonymized',
  'user.logged_in',
  // The retention policy's warning: the user has not logged in for its warnAfterDays (once per
  // dormancy period; a login or a reactivation ends it).
  'user.dormant',
] as const;

export type UserEventType = (typeof USER_EVENT_TYPES)[number];

export interface UserEvent<T extends UserEventType = UserEventType> {
  // The idempotency key: a consumer that sees an id twice has seen the same event twice.
  id: string;
  type: T;
  userId: string;
  occurredAt: Date;
  // Who made the change (the authenticated caller of a request), when known.
  actorId: string | null;
  // The request that made it (X-Request-Id), when there was one.
  requestId: string | null;
  // The user's version after the change (the last one it had, for user.hard_deleted). Changes
  // that do not bump the version (a login, the end of the sessions) carry the current one.
  version: number;
  // The names of the fields the change wrote, in the REST API's spelling (fullName, isActive...).
  changedFields: string[];
  // The order events were committed in: per user, a later change has a larger sequence.
  sequence: string;
}

export function isUserEventType(value: unknown): value is UserEventType {
  return typeof value === 'string' && (USER_EVENT_TYPES as readonly string[]).includes(value);
}
