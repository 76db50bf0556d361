import { ValidationFailedError } from '../errors/domain-error';
import { isIP } from 'node:net';
import { isUuid } from '../common/paging';

export type AuditDetails = Record<string, unknown>;

const NOTE_MAX = 500;
const LIST_MAX = 1000;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,63}$/;
const TOKEN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const ROUTE = /^\/[A-Za-z0-9/:_.-]{0,200}$/;
// Line breaks (including U+2028/2029), other control and invisible formatting characters.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const SECRET_PATTERNS = [
  // PHC and crypt(3) hashes: argon2, bcrypt, scrypt, pbkdf2, sha-crypt.
  /\$(?:argon2(?:id|i|d)|2[abxy]?|scrypt|pbkdf2[-a-z0-9]*|[56])\$\S*/gi,
  // JWTs: a base64url JSON header, payload and signature.
  /eyJ[\w-]*\.[\w-]*\.[\w-]*/g,
  /[^\s@]+@[^\s@]+/g,
];

type Rule = (value: unknown) => unknown;

const count: Rule = (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? v : undefined);
const token: Rule = (v) => (typeof v === 'string' && TOKEN.test(v) ? v : undefined);
const flag: Rule = (v) => (typeof v === 'boolean' ? v : undefined);
const listOf =
  (accepts: (item: unknown) => boolean): Rule =>
  (v) =>
    Array.isArray(v) ? v.filter(accepts).slice(0, LIST_MAX) : undefined;

// Free text is kept on one line, without anything that looks like a hash, a token or an email.
export function sanitizeNote(value: string): string {
  let note = value.slice(0, NOTE_MAX * 8).replace(UNPRINTABLE, '');
  for (const pattern of SECRET_PATTERNS) note = note.replace(pattern, '[redacted]');
  return note.trim().slice(0, NOTE_MAX);
}

// The only keys an audit row may carry: names, ids, counts and enum-like values, never the
// values of personal fields, passwords, hashes or tokens. Values failing their rule are dropped.
const RULES: Record<string, Rule> = {
  fields: listOf((f) => typeof f === 'string' && FIELD_NAME.test(f)),
  targetIds: listOf(isUuid),
  count,
  created: count,
  updated: count,
  deleted: count,
  skipped: count,
  failed: count,
  version: count,
  expectedVersion: count,
  // The inactivity, in days, a retention step acted after.
  afterDays: count,
  outcome: token,
  reason: token,
  errorCode: token,
  role: token,
  format: token,
  onConflict: token,
  method: token,
  route: (v) => (typeof v === 'string' && ROUTE.test(v) ? v : undefined),
  status: (v) => (Number.isInteger(v) && (v as number) >= 100 && (v as number) <= 599 ? v : undefined),
  // The client's IP address (request.ip, which honours TRUST_PROXY only); nothing else passes.
  clientAddress: (v) => (typeof v === 'string' && v.length <= 45 && isIP(v) !== 0 ? v : undefined),
  dryRun: flag,
  withDeleted: flag,
  note: (v) => (typeof v === 'string' ? sanitizeNote(v) || undefined : undefined),
};

// Keys whose values are free text or identify a person (an IP address): anonymizing a user drops
// them from that user's history.
export const PERSONAL_KEYS = ['note', 'clientAddress'];

export function sanitizeAuditDetails(details: unknown): AuditDetails {
  if (details === undefined || details === null) return {};
  if (typeof details === 'string') {
    const note = sanitizeNote(details);
    return note ? { note } : {};
  }
  if (typeof details !== 'object' || Array.isArray(details)) {
    throw ValidationFailedError.field('details', 'must be a string or an object');
  }
  const clean: AuditDetails = {};
  for (const [key, value] of Object.entries(details)) {
    const rule = Object.hasOwn(RULES, key) ? RULES[key] : undefined;
    const kept = rule?.(value);
    if (kept !== undefined) clean[key] = kept;
  }
  return clean;
}
