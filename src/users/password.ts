import { hash, verify } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';
import { dictionary } from '@zxcvbn-ts/language-common';
import { performance } from 'node:perf_hooks';
import type { FieldIssue } from '../errors/domain-error';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

// argon2id with the OWASP minimum (19 MiB, 2 passes, 1 lane). 2 is Algorithm.Argon2id, spelled
// as a number because the package exports the enum as a `const enum`.
const ARGON2ID = 2;
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

// PHC strings carry unpadded base64: a salt of 8 to 48 bytes, a hash of 16 to 64 bytes.
const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$[A-Za-z0-9+/]{11,64}\$[A-Za-z0-9+/]{22,86}$/;
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
// An imported hash sets the cost of every login against it, and that time must not tell it from
// an ordinary account (nor turn public logins into a denial of service). So its cost is bounded
// on both sides: at most the policy's (a costlier hash would answer visibly later; faster ones
// are padded, see checkPassword), and at least a floor below which a leaked hash is trivial to
// crack. bcrypt 7 verifies in about the time of the policy's argon2id; bcrypt 4 is its minimum.
const MIN_ARGON2_MEMORY_COST = 4096;
const MAX_ARGON2_WORK = ARGON2_OPTIONS.memoryCost * ARGON2_OPTIONS.timeCost;
const BCRYPT_COSTS = { min: 4, max: 7 };

// Whose password it is: a password equal to the account's own email, its local part or the full
// name is the first thing an attacker tries.
export interface PasswordOwner {
  email?: unknown;
  fullName?: unknown;
}

export function passwordIssue(password: unknown, field = 'password', index?: number, owner: PasswordOwner = {}): FieldIssue | undefined {
  let reason: string | undefined;
  if (typeof password !== 'string') reason = 'must be a string';
  else if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    reason = `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`;
  } else if (commonPasswords().has(folded(password))) {
    reason = 'is one of the most common passwords; choose another';
  } else if (ownerNames(owner).includes(folded(password))) {
    reason = 'must not be the email address or the name of the account';
  }
  if (reason === undefined) return undefined;
  return index === undefined ? { field, reason } : { field, reason, index };
}

// Compared after NFKC and case folding, so 'PASSWORD' and full-width 'Ｐａｓｓｗｏｒｄ' are 'password'.
function folded(value: string): string {
  return value.normalize('NFKC').toLowerCase().trim();
}

function ownerNames({ email, fullName }: PasswordOwner): string[] {
  const names: string[] = [];
  if (typeof email === 'string' && email.trim() !== '') {
    names.push(folded(email));
    const at = email.lastIndexOf('@');
    if (at > 0) names.push(folded(email.slice(0, at)));
  }
  if (typeof fullName === 'string' && fullName.trim() !== '') names.push(folded(fullName));
  return names;
}

// The whole ranked list of @zxcvbn-ts/language-common 4.1.3 (49,233 passwords from breach
// corpora, most common first; ASVS 6.2.4 asks for at least the top 3,000): a kept list, not a
// hand-written one. Only entries that the length rule lets through matter. Built on first use.
let common: ReadonlySet<string> | undefined;
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    dictionary['passwords-common'].filter((p) => p.length >= PASSWORD_MIN_LENGTH && p.length <= PASSWORD_MAX_LENGTH).map(folded),
  );
  return common;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

// An argon2id PHC string, or a bcrypt hash (accepted from imports and migrations, upgraded to
// argon2id at the next login), with costs inside the bounds above.
export function isPasswordHash(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const argon2 = ARGON2ID_PHC.exec(value);
  if (argon2) {
    const [m, t, p] = argon2.slice(1).map(Number);
    // One lane, as the policy: the memory and passes bound the work only then.
    return p === 1 && m >= MIN_ARGON2_MEMORY_COST && m <= ARGON2_OPTIONS.memoryCost && t >= 1 && m * t <= MAX_ARGON2_WORK;
  }
  const bcrypt = BCRYPT.exec(value);
  return bcrypt !== null && Number(bcrypt[1]) >= BCRYPT_COSTS.min && Number(bcrypt[1]) <= BCRYPT_COSTS.max;
}

// A hash of exactly today's policy: what an ordinary account has, and what sets the pace.
function isPolicyHash(hashed: string): boolean {
  return isPasswordHash(hashed) && !needsRehash(hashed);
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  if (!isPasswordHash(hashed)) return false;
  try {
    return await (BCRYPT.test(hashed) ? verifyBcrypt(password, hashed) : verify(hashed, password));
  } catch {
    return false;
  }
}

// Any stored hash other than exactly today's policy (bcrypt, a cheaper argon2id, or a costlier one
// stored by an earlier version) is replaced after the next successful login, when the plaintext
// is at hand: from then on the account verifies in the policy's time like every other.
export function needsRehash(hashed: string): boolean {
  const argon2 = ARGON2ID_PHC.exec(hashed);
  if (!argon2) return true;
  const [m, t, p] = argon2.slice(1).map(Number);
  return m !== ARGON2_OPTIONS.memoryCost || t !== ARGON2_OPTIONS.timeCost || p !== ARGON2_OPTIONS.parallelism;
}

// Checks a password against a stored hash, or against nothing (unknown email, inactive account,
// unusable hash), in the time of one verification at the policy's cost whatever the case:
// - no usable hash: a verification against a dummy policy hash;
// - a policy hash: its own verification;
// - a cheaper imported hash (bcrypt, light argon2id): its verification, then a pause up to the
//   median of the latest policy verifications in this process, which track the machine's load.
// Costlier hashes are neither accepted nor verified (isPasswordHash), so nothing is slower than
// the policy: one stored by an earlier version under looser bounds counts as no usable hash.
export async function checkPassword(hashed: string | undefined, password: string): Promise<boolean> {
  if (hashed === undefined || !isPasswordHash(hashed)) {
    await burnPasswordVerification(password);
    return false;
  }
  if (isPolicyHash(hashed)) return timedPolicyVerification(hashed, password);
  const pace = await policyVerificationMs();
  const started = performance.now();
  const matches = await verifyPassword(hashed, password);
  await sleep(pace - (performance.now() - started));
  return matches;
}

const PACE_SAMPLES = 15;
const recentPolicyVerificationsMs: number[] = [];

async function timedPolicyVerification(hashed: string, password: string): Promise<boolean> {
  const started = performance.now();
  const matches = await verifyPassword(hashed, password);
  recentPolicyVerificationsMs.push(performance.now() - started);
  if (recentPolicyVerificationsMs.length > PACE_SAMPLES) recentPolicyVerificationsMs.shift();
  return matches;
}

async function policyVerificationMs(): Promise<number> {
  if (recentPolicyVerificationsMs.length === 0) await burnPasswordVerification('');
  const sorted = [...recentPolicyVerificationsMs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

// Verifying against this hash costs the same as a real verification, so a login for an unknown
// account takes as long as one with a wrong password.
let dummyHash: Promise<string> | undefined;
export async function burnPasswordVerification(password: string): Promise<void> {
  dummyHash ??= hashPassword('dummy-password-for-constant-time');
  await timedPolicyVerification(await dummyHash, password);
}
