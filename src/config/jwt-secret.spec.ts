import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JWT_SECRET_FILE, resolveJwtSecret } from './jwt-secret';

describe('resolveJwtSecret', () => {
  const freshDir = () => join(mkdtempSync(join(tmpdir(), 'jwt-secret-')), 'data');

  it('uses JWT_SECRET when it is set, without touching DATA_DIR', () => {
    const dataDir = freshDir();
    expect(resolveJwtSecret({ jwtSecret: 'x'.repeat(40), nodeEnv: 'production', dataDir })).toBe('x'.repeat(40));
    expect(() => statSync(dataDir)).toThrow(/ENOENT/);
  });

  it('refuses to run in production without JWT_SECRET', () => {
    expect(() => resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'production', dataDir: freshDir() })).toThrow(/JWT_SECRET/);
  });

  it('generates a secret once, owner-only, and returns the same one afterwards', () => {
    const dataDir = freshDir();
    const first = resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'development', dataDir });
    const second = resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'test', dataDir });

    expect(first).toHaveLength(64);
    expect(second).toBe(first);
    expect(readFileSync(join(dataDir, JWT_SECRET_FILE), 'utf8')).toBe(first);
    expect(statSync(join(dataDir, JWT_SECRET_FILE)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['0640', 0o640],
    ['0604', 0o604],
    ['0644', 0o644],
  ])('refuses a secret file that group or others can read (mode %s), naming the file', (label, mode) => {
    const dataDir = freshDir();
    resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'development', dataDir });
    chmodSync(join(dataDir, JWT_SECRET_FILE), mode);
    expect(() => resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'development', dataDir })).toThrow(
      new RegExp(`${JWT_SECRET_FILE} is open to group or others \\(mode ${label}\\).*chmod 600`),
    );
  });

  it('refuses a secret file that holds too short a secret', () => {
    const dataDir = freshDir();
    resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'development', dataDir });
    writeFileSync(join(dataDir, JWT_SECRET_FILE), 'short');
    expect(() => resolveJwtSecret({ jwtSecret: undefined, nodeEnv: 'development', dataDir })).toThrow(/no usable JWT secret/);
  });
});
