import type { FieldIssue } from '../errors/domain-error';

export const MAX_EMAIL_LENGTH = 254;

// Control characters and invisible format characters (zero-width joiners, bidi overrides) could
// make two addresses look alike while differing; they are refused outright.
const FORBIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/u;

// The one canonical form of an email, used for storage, uniqueness, lookup and upsert:
// trimmed, Unicode NFKC (full-width and compatibility forms fold to their plain letters), lower-case.
export function canonicalEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}

// Returns the problem with an email, or undefined when it is acceptable.
export function emailProblem(email: unknown): string | undefined {
  if (typeof email !== 'string') return 'must be a string';
  const trimmed = email.trim();
  if (trimmed.length === 0) return 'must not be empty';
  if (trimmed.length > MAX_EMAIL_LENGTH || canonicalEmail(trimmed).length > MAX_EMAIL_LENGTH) {
    return `must be at most ${MAX_EMAIL_LENGTH} characters`;
  }
  if (FORBIDDEN_CHARACTERS.test(trimmed)) return 'must not contain control or invisible characters';
  if (trimmed.split('@').length !== 2) return 'must contain exactly one @';
  if (!SHAPE.test(canonicalEmail(trimmed))) return 'must look like local@domain.tld';
  return undefined;
}

export function emailIssue(email: unknown, field = 'email', index?: number): FieldIssue | undefined {
  const reason = emailProblem(email);
  if (reason === undefined) return undefined;
  return index === undefined ? { field, reason } : { field, reason, index };
}
