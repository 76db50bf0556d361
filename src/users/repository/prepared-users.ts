import { canonicalEmail } from '../email';
import { hashPassword } from '../password';
import type { NewUser } from '../user.model';
import { UserValidationError, type ConflictDetail } from '../users.errors';
import { bulkItemIssues, MAX_BULK_ITEMS, repeatedEmails, UNUSABLE_PASSWORD } from '../user-rules';

const HASH_CONCURRENCY = 4;

// A new user validated and with its password hashed, as the store inserts it.
export interface PreparedUser {
  id?: string;
  email: string;
  emailNormalized: string;
  fullName: string | null;
  hashedPassword: string;
  isActive: boolean;
  roles: string[];
  metadata: Record<string, unknown>;
  // Strings (ISO 8601 with a zone) keep the microseconds a Date would drop.
  createdAt?: Date | string;
  lastLoginAt?: Date | string | null;
}

// Validates every row and hashes plaintext passwords; throws one error listing every bad row.
// `hashPasswords: false` validates only (a dry run): plaintext rows get the unusable hash and
// must not be inserted. No database.
export async function prepareUsers(users: NewUser[], options: { allowMissingPassword?: boolean; hashPasswords?: boolean } = {}): Promise<PreparedUser[]> {
  if (!Array.isArray(users)) throw UserValidationError.field('users', 'must be an array');
  if (users.length > MAX_BULK_ITEMS) throw UserValidationError.field('users', `at most ${MAX_BULK_ITEMS} items per call`);
  const issues = bulkItemIssues(users, options);
  if (issues.length) throw new UserValidationError(issues);
  const hashes = await mapLimited(users, HASH_CONCURRENCY, (u) =>
    u.password !== undefined && options.hashPasswords !== false ? hashPassword(u.password) : Promise.resolve(u.hashedPassword ?? UNUSABLE_PASSWORD),
  );
  return users.map((u, i) => ({
    email: u.email.trim(),
    emailNormalized: canonicalEmail(u.email),
    fullName: u.fullName ?? null,
    hashedPassword: hashes[i],
    isActive: u.isActive ?? true,
    roles: u.roles ? [...new Set(u.roles)] : ['user'],
    metadata: u.metadata ?? {},
  }));
}

// Rows of the batch whose canonical email an earlier row already holds.
export function duplicatesWithin(rows: PreparedUser[]): ConflictDetail[] {
  return repeatedEmails(rows.map((r) => r.emailNormalized)).map(({ email, index }) => ({ email, index }));
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
