import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from './app-config';

export const JWT_SECRET_FILE = 'jwt-secret';

// JWT_SECRET when set. Production refuses to start without it (the config checks that too); in
// development and tests a random secret is generated once and kept under DATA_DIR, so tokens
// survive restarts without anyone having to invent a secret.
export function resolveJwtSecret(config: Pick<AppConfig, 'jwtSecret' | 'nodeEnv' | 'dataDir'>): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.nodeEnv === 'production') throw new Error('JWT_SECRET must be set when NODE_ENV=production');
  return readOrCreateSecretFile(config.dataDir);
}

function readOrCreateSecretFile(dataDir: string): string {
  const path = join(dataDir, JWT_SECRET_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    // 'wx' fails when the file exists, so two processes starting together agree on one secret.
    writeFileSync(path, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // Anyone who can read the file can sign admin tokens: refuse to use a file others may have read,
  // rather than quietly go on with a secret that may already be known.
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is open to group or others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it, or delete it to generate a new secret`);
  }
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${path} holds no usable JWT secret; delete it to generate a new one`);
  return secret;
}
