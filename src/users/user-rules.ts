import { RESERVED_KEYS_REASON, reservedKeyPaths } from '../common/reserved-keys';
import { fieldIssue, type FieldIssue } from '../errors/domain-error';
import { canonicalEmail, emailIssue } from './email';
import { isPasswordHash, passwordIssue } from './password';
import type { NewUser, UserPatch } from './user.model';
import { UserValidationError } from './users.errors';

// Stored in place of a hash for users created without a password (upsert, import): no
// password ever verifies against it.
export const UNUSABLE_PASSWORD = '!';

export const FULL_NAME_MAX = 200;
export const METADATA_MAX_BYTES = 16 * 1024;
// Roles are lower-case identifiers; metadata keys (custom field names) are identifiers too.
export const ROLE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const FIELD_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const PATCHABLE_FIELDS = ['email', 'fullName', 'isActive', 'metadata'] as const;

export function fullNameIssue(value: unknown, index?: number): FieldIssue | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return fieldIssue('fullName', 'must be a string or null', index);
  if (value.length > FULL_NAME_MAX) return fieldIssue('fullName', `must be at most ${FULL_NAME_MAX} characters`, index);
  if (/[\p{Cc}]/u.test(value)) return fieldIssue('fullName', 'must not contain control characters', index);
  return undefined;
}

export function roleIssue(value: unknown, field = 'roles', index?: number): FieldIssue | undefined {
  return typeof value === 'string' && ROLE_PATTERN.test(value) ? undefined : fieldIssue(field, 'roles are lower-case identifiers ([a-z][a-z0-9_-]{0,31})', index);
}

export function metadataIssue(value: unknown, index?: number): FieldIssue | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fieldIssue('metadata', 'must be an object', index);
  const bad = Object.keys(value).find((k) => !FIELD_NAME_PATTERN.test(k));
  if (bad !== undefined) return fieldIssue('metadata', `key ${JSON.stringify(bad)} must match [A-Za-z_][A-Za-z0-9_]{0,63}`, index);
  const [reserved] = reservedKeyPaths(value);
  if (reserved !== undefined) return fieldIssue('metadata', `key ${JSON.stringify(reserved.split('.').pop())} at ${reserved} ${RESERVED_KEYS_REASON}`, index);
  const json = JSON.stringify(value);
  // PostgreSQL's jsonb cannot hold the NUL character.
  if (json.includes('\\u0000')) return fieldIssue('metadata', 'must not contain NUL characters', index);
  if (Buffer.byteLength(json) > METADATA_MAX_BYTES) return fieldIssue('metadata', `must be at most ${METADATA_MAX_BYTES} bytes as JSON`, index);
  return undefined;
}

// Validates a patch against the allow-list and turns it into SET clauses whose parameters are
// numbered from `firstParam`. Unknown or protected fields are an error, never silently dropped.
export function patchAssignments(
  patch: UserPatch,
  firstParam: number,
  allowed: readonly string[] = PATCHABLE_FIELDS,
): { assignments: string[]; params: unknown[]; fields: string[] } {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw UserValidationError.field('updateData', 'must be an object');
  const issues: FieldIssue[] = Object.keys(patch)
    .filter((k) => !allowed.includes(k))
    .map((k) => fieldIssue(k, 'is not a writable field'));
  const entries = Object.entries(patch).filter(([k, v]) => allowed.includes(k) && v !== undefined);
  const assignments: string[] = [];
  const params: unknown[] = [];
  // The patch's fields that are written, in the API's spelling (for the change's event).
  const fields = entries.map(([key]) => key);
  const add = (column: string, value: unknown) => {
    params.push(value);
    assignments.push(`${column} = $${firstParam + params.length - 1}`);
  };
  for (const [key, value] of entries) {
    if (key === 'email') {
      const problem = emailIssue(value);
      if (problem) issues.push(problem);
      else {
        add('email', (value as string).trim());
        add('email_normalized', canonicalEmail(value as string));
      }
    } else if (key === 'fullName') {
      const problem = fullNameIssue(value);
      if (problem) issues.push(problem);
      else add('full_name', value);
    } else if (key === 'isActive') {
      if (typeof value !== 'boolean') issues.push(fieldIssue('isActive', 'must be a boolean'));
      else add('is_active', value);
    } else if (key === 'metadata') {
      const problem = metadataIssue(value);
      if (problem) issues.push(problem);
      else {
        params.push(JSON.stringify(value));
        assignments.push(`metadata = $${firstParam + params.length - 1}::jsonb`);
      }
    }
  }
  if (issues.length) throw new UserValidationError(issues);
  return { assignments, params, fields };
}

export const MAX_BULK_ITEMS = 10000;
// Plaintext passwords cost ~50 ms of argon2 each; batches that carry them are kept small.
export const MAX_PLAINTEXT_PASSWORDS = 100;

// Every problem of every item, by index, as prepare() refuses them (duplicates inside the batch
// are conflicts, found by duplicatesWithin). Pure: no hashing, no database.
export function bulkItemIssues(users: readonly unknown[], options: { allowMissingPassword?: boolean } = {}): FieldIssue[] {
  const issues: FieldIssue[] = [];
  let plaintext = 0;
  users.forEach((user, index) => {
    if (typeof user !== 'object' || user === null) {
      issues.push({ field: 'user', reason: 'must be an object', index });
      return;
    }
    issues.push(...rowIssues(user as NewUser, index, options.allowMissingPassword === true));
    if ((user as NewUser).password !== undefined) plaintext++;
  });
  if (plaintext > MAX_PLAINTEXT_PASSWORDS) {
    issues.push({ field: 'password', reason: `at most ${MAX_PLAINTEXT_PASSWORDS} plaintext passwords per call; send argon2id hashes for larger batches` });
  }
  return issues;
}

// The positions whose canonical email an earlier position already holds, with that position
// (undefined: an item without a usable email, which repeats nothing).
export function repeatedEmails(emails: readonly (string | undefined)[]): { email: string; index: number; first: number }[] {
  const first = new Map<string, number>();
  const repeats: { email: string; index: number; first: number }[] = [];
  emails.forEach((email, index) => {
    if (email === undefined) return;
    const earlier = first.get(email);
    if (earlier === undefined) first.set(email, index);
    else repeats.push({ email, index, first: earlier });
  });
  return repeats;
}

function rowIssues(user: NewUser, index: number, allowMissingPassword: boolean): FieldIssue[] {
  const issues = [emailIssue(user.email, 'email', index), fullNameIssue(user.fullName, index), metadataIssue(user.metadata, index)];
  if (user.password !== undefined && user.hashedPassword !== undefined) {
    issues.push({ field: 'password', reason: 'give either password or hashedPassword, not both', index });
  } else if (user.password !== undefined) {
    issues.push(passwordIssue(user.password, 'password', index, user));
  } else if (user.hashedPassword !== undefined) {
    if (!isPasswordHash(user.hashedPassword)) issues.push({ field: 'hashedPassword', reason: 'must be an argon2id or bcrypt hash', index });
  } else if (!allowMissingPassword) {
    issues.push({ field: 'password', reason: 'password or hashedPassword is required', index });
  }
  if (user.isActive !== undefined && typeof user.isActive !== 'boolean') issues.push({ field: 'isActive', reason: 'must be a boolean', index });
  if (user.roles !== undefined) {
    if (!Array.isArray(user.roles)) issues.push({ field: 'roles', reason: 'must be an array', index });
    else issues.push(...user.roles.map((r) => roleIssue(r, 'roles', index)));
  }
  return issues.filter((i): i is FieldIssue => !!i);
}
