import { hash, verify } from '@node-rs/argon2';
import type { FieldIssue } from '../errors/domain-error';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

// argon2id with the OWASP minimum (19 MiB, 2 passes, 1 lane). 2 is Algorithm.Argon2id, spelled
// as a number because the package exports the enum as a `const enum`.
const ARGON2ID = 2;
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export function passwordIssue(password: unknown, field = 'password', index?: number): FieldIssue | undefined {
  let reason: string | undefined;
  if (typeof password !== 'string') reason = 'must be a string';
  else if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    reason = `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`;
  }
  if (reason === undefined) return undefined;
  return index === undefined ? { field, reason } : { field, reason, index };
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

export function isPasswordHash(value: unknown): value is string {
  return typeof value === 'string' && (ARGON2ID_PHC.test(value) || BCRYPT.test(value));
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  if (!ARGON2ID_PHC.test(hashed)) return false;
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

// Verifying against this hash costs the same as a real verification, so a login for an unknown
// account takes as long as one with a wrong password.
let dummyHash: Promise<string> | undefined;
export async function burnPasswordVerification(password: string): Promise<void> {
  dummyHash ??= hashPassword('dummy-password-for-constant-time');
  await verifyPassword(await dummyHash, password);
}
