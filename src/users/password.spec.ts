import { hash as hashBcrypt } from '@node-rs/bcrypt';
import { performance } from 'node:perf_hooks';
import { burnPasswordVerification, checkPassword, hashPassword, isPasswordHash, needsRehash, passwordIssue, verifyPassword } from './password';

describe('password hashing', () => {
  it('hashes with argon2id, m=19456, t=2, p=1, in PHC form, salted', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');
    expect(first).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(second).not.toBe(first);
  });

  it('verifies the right password only', async () => {
    const hashed = await hashPassword('correct horse battery');
    await expect(verifyPassword(hashed, 'correct horse battery')).resolves.toBe(true);
    await expect(verifyPassword(hashed, 'correct horse batterY')).resolves.toBe(false);
    await expect(verifyPassword(hashed, '')).resolves.toBe(false);
  });

  it('answers false, not an error, for a value that is not an argon2id hash', async () => {
    await expect(verifyPassword('correct horse battery', 'correct horse battery')).resolves.toBe(false);
    await expect(verifyPassword('$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB', 'x')).resolves.toBe(false);
  });

  it('recognises argon2id and bcrypt hashes and nothing else', async () => {
    expect(isPasswordHash(await hashPassword('correct horse battery'))).toBe(true);
    expect(isPasswordHash('$2b$07$' + 'a'.repeat(53))).toBe(true);
    expect(isPasswordHash('$2y$04$' + 'N'.repeat(53))).toBe(true);
    expect(isPasswordHash('correct horse battery')).toBe(false);
    expect(isPasswordHash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g')).toBe(false);
    expect(isPasswordHash('$2b$12$short')).toBe(false);
    expect(isPasswordHash(undefined)).toBe(false);
  });

  it('spends a real verification on an unknown account', async () => {
    await expect(burnPasswordVerification('whatever')).resolves.toBeUndefined();
  });
});

describe('passwordIssue', () => {
  it('accepts 8 to 128 characters', () => {
    expect(passwordIssue('q7#Lm2pX')).toBeUndefined();
    expect(passwordIssue('x'.repeat(127) + 'y')).toBeUndefined();
  });

  it.each(['12345678', 'password', 'PASSWORD', 'Ｐａｓｓｗｏｒｄ', 'qwertyuiop', 'iloveyou1', 'admin123', ' password '])(
    'refuses the common password %j',
    (password) => {
      expect(passwordIssue(password)).toEqual({ field: 'password', reason: 'is one of the most common passwords; choose another' });
    },
  );

  it('refuses the email, its local part and the full name of the account, in any case', () => {
    const owner = { email: 'Ada.Lovelace@Example.com', fullName: 'Ada Lovelace' };
    for (const password of ['ada.lovelace@example.com', 'ADA.LOVELACE', 'ada lovelace']) {
      expect(passwordIssue(password, 'newPassword', undefined, owner)).toEqual({
        field: 'newPassword',
        reason: 'must not be the email address or the name of the account',
      });
    }
    expect(passwordIssue('ada lovelace 1815', 'password', undefined, owner)).toBeUndefined();
  });

  it.each([['1234567'], ['x'.repeat(129)], [12345678], [null]])('rejects %j', (password) => {
    expect(passwordIssue(password)?.field).toBe('password');
  });

  it('names the row of a bulk item', () => {
    expect(passwordIssue('short', 'password', 2)).toEqual({ field: 'password', reason: 'must be 8 to 128 characters', index: 2 });
  });
});

describe('hashes from elsewhere', () => {
  it('verifies bcrypt hashes and asks for an argon2id rehash', async () => {
    const bcrypt = await hashBcrypt('correct horse battery', 4);
    await expect(verifyPassword(bcrypt, 'correct horse battery')).resolves.toBe(true);
    await expect(verifyPassword(bcrypt, 'wrong horse battery')).resolves.toBe(false);
    expect(needsRehash(bcrypt)).toBe(true);
    expect(needsRehash(await hashPassword('correct horse battery'))).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA')).toBe(true);
    // Costlier than the policy (stored by an earlier version): replaced too, or it would verify
    // slower than every other account for ever.
    expect(needsRehash('$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA')).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=19456,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA')).toBe(true);
  });

  const salt = 'c2FsdHNhbHQ'; // 8 bytes
  const digest = 'aGFzaGhhc2hoYXNoaGFzaA'; // 16 bytes

  it('accepts argon2id costs from a floor up to the policy, in one lane', () => {
    for (const params of ['m=19456,t=2', 'm=12288,t=3', 'm=9216,t=4', 'm=7168,t=5', 'm=4096,t=1']) {
      expect(isPasswordHash(`$argon2id$v=19$${params},p=1$${salt}$${digest}`)).toBe(true);
    }
  });

  it('refuses costs above the policy (slower logins would tell the account apart, or be a denial of service) and below a floor', () => {
    for (const params of ['m=4194304,t=2,p=1', 'm=19456,t=500,p=1', 'm=65536,t=10,p=4', 'm=38912,t=1,p=1', 'm=19456,t=3,p=1', 'm=19456,t=2,p=4', 'm=2048,t=10,p=1']) {
      expect(isPasswordHash(`$argon2id$v=19$${params}$${salt}$${digest}`)).toBe(false);
    }
    expect(isPasswordHash('$2b$08$' + 'a'.repeat(53))).toBe(false);
    expect(isPasswordHash('$2b$12$' + 'a'.repeat(53))).toBe(false);
    expect(isPasswordHash('$2b$31$' + 'a'.repeat(53))).toBe(false);
    expect(isPasswordHash('$2b$03$' + 'a'.repeat(53))).toBe(false);
  });

  it('refuses PHC salts shorter than 8 bytes and hashes shorter than 16 bytes, and padding', () => {
    expect(isPasswordHash(`$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$${digest}`)).toBe(false);
    expect(isPasswordHash(`$argon2id$v=19$m=19456,t=2,p=1$${salt}$aGFzaGhhc2g`)).toBe(false);
    expect(isPasswordHash(`$argon2id$v=19$m=19456,t=2,p=1$${salt}=$${digest}`)).toBe(false);
    expect(isPasswordHash(`$argon2id$v=19$m=19456,t=2,p=1$${'A'.repeat(65)}$${digest}`)).toBe(false);
  });
});

describe('checkPassword', () => {
  it('pads a check against a cheap imported hash to the pace of a policy verification', async () => {
    const bcrypt = await hashBcrypt('correct horse battery', 4);
    const policy = await hashPassword('correct horse battery');
    const timed = async (check: () => Promise<unknown>) => {
      const started = performance.now();
      await check();
      return performance.now() - started;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const padded: number[] = [];
    const reference: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      padded.push(await timed(() => checkPassword(bcrypt, `wrong horse battery ${i}`)));
      reference.push(await timed(() => checkPassword(policy, `wrong horse battery ${i}`)));
    }
    await expect(checkPassword(bcrypt, 'correct horse battery')).resolves.toBe(true);
    expect(median(padded)).toBeGreaterThan(0.7 * median(reference));
  });

  it('answers false for no hash or an unusable one, after a real verification', async () => {
    await expect(checkPassword(undefined, 'whatever')).resolves.toBe(false);
    await expect(checkPassword('!', '!')).resolves.toBe(false);
    await expect(checkPassword(await hashPassword('correct horse battery'), 'correct horse battery')).resolves.toBe(true);
  });
});
