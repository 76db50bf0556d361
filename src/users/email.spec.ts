import { canonicalEmail, emailIssue, emailProblem, MAX_EMAIL_LENGTH } from './email';

describe('canonicalEmail', () => {
  it('trims and lower-cases', () => {
    expect(canonicalEmail('  Alice@Example.COM \t')).toBe('alice@example.com');
  });

  it('folds full-width and compatibility forms to plain ASCII (NFKC)', () => {
    expect(canonicalEmail('ＡＬＩＣＥ＠ｅｘａｍｐｌｅ．ｃｏｍ')).toBe('alice@example.com');
    expect(canonicalEmail('ﬁnance@example.com')).toBe('finance@example.com');
  });

  it('folds the Kelvin sign to k, as PostgreSQL lower() does', () => {
    expect(canonicalEmail('\u212Aate@example.com')).toBe('kate@example.com');
  });

  it('keeps dotless ı distinct from i', () => {
    expect(canonicalEmail('\u0131van@example.com')).toBe('\u0131van@example.com');
    expect(canonicalEmail('\u0131van@example.com')).not.toBe(canonicalEmail('ivan@example.com'));
    expect(canonicalEmail('IVAN@example.com')).toBe('ivan@example.com');
  });
});

describe('canonicalEmail: full case folding and one form of the domain (item 9)', () => {
  it('folds every sigma to σ, wherever it stands', () => {
    expect(canonicalEmail('XΑΣ@EXAMPLE.GR')).toBe('xασ@example.gr');
    expect(canonicalEmail('xας@example.gr')).toBe('xασ@example.gr');
    expect(canonicalEmail('xασ@example.gr')).toBe('xασ@example.gr');
    expect(canonicalEmail('ΣΑΣ.ΣΑΣ@example.gr')).toBe('σασ.σασ@example.gr');
  });

  it('folds ß and ẞ to ss, and other full foldings', () => {
    expect(canonicalEmail('Straße@example.de')).toBe('strasse@example.de');
    expect(canonicalEmail('STRAẞE@example.de')).toBe('strasse@example.de');
    expect(canonicalEmail('\u0149x@example.com')).toBe('\u02BCnx@example.com');
    expect(canonicalEmail('\u0130stanbul@example.com')).toBe('i\u0307stanbul@example.com');
    expect(canonicalEmail('\u13A0\u13A1@example.com')).toBe(canonicalEmail('\uAB70\uAB71@example.com'));
  });

  it('writes the domain in its one ASCII (punycode) form', () => {
    expect(canonicalEmail('idn@bücher.example')).toBe('idn@xn--bcher-kva.example');
    expect(canonicalEmail('IDN@BÜCHER.EXAMPLE')).toBe('idn@xn--bcher-kva.example');
    expect(canonicalEmail('idn@XN--BCHER-KVA.example')).toBe('idn@xn--bcher-kva.example');
    expect(canonicalEmail('idn@bu\u0308cher.example')).toBe('idn@xn--bcher-kva.example');
  });

  it('folds the local part but leaves the domain to IDNA (ß is a letter of its own in a domain)', () => {
    expect(canonicalEmail('ẞ@straße.de')).toBe('ss@xn--strae-oqa.de');
  });

  it('is idempotent', () => {
    for (const email of ['XΑΣ@EXAMPLE.GR', 'STRAẞE@bücher.example', '\u0130@example.com', 'ＡＬＩＣＥ＠ｅｘａｍｐｌｅ．ｃｏｍ']) {
      expect(canonicalEmail(canonicalEmail(email))).toBe(canonicalEmail(email));
    }
  });
});

describe('emailProblem', () => {
  it.each(['alice@example.com', '  Alice+tag@sub.example.co.uk ', 'ＡＬＩＣＥ@ｅｘａｍｐｌｅ.ｃｏｍ', 'o\u0027brien@example.ie', 'idn@bücher.example', 'xασ@παράδειγμα.δοκιμή'])(
    'accepts %j',
    (email) => {
      expect(emailProblem(email)).toBeUndefined();
    },
  );

  it.each([
    ['a\u0000b@example.com', 'control or invisible'],
    ['a\u0007b@example.com', 'control or invisible'],
    ['al\u200Bice@example.com', 'control or invisible'],
    ['alice\u202E@example.com', 'control or invisible'],
    ['alice@@example.com', 'exactly one @'],
    ['alice@bob@example.com', 'exactly one @'],
    ['alice.example.com', 'exactly one @'],
    ['alice@example', 'local@domain.tld'],
    ['al ice@example.com', 'local@domain.tld'],
    ['   ', 'must not be empty'],
    ['idn@xn--zz.example', 'valid domain'],
    ['idn@a%41.example', 'valid domain'],
    ['idn@0x7f.1', 'valid domain'],
  ])('rejects %j (%s)', (email, reason) => {
    expect(emailProblem(email)).toContain(reason);
  });

  it('rejects a non-string', () => {
    expect(emailProblem(42)).toBe('must be a string');
    expect(emailProblem(undefined)).toBe('must be a string');
  });

  it(`accepts ${MAX_EMAIL_LENGTH} characters and rejects one more`, () => {
    const local = 'a'.repeat(64);
    const domainOf = (length: number) => `${'b'.repeat(length - 4)}.com`;
    const longest = `${local}@${domainOf(MAX_EMAIL_LENGTH - 65)}`;
    expect(longest).toHaveLength(MAX_EMAIL_LENGTH);
    expect(emailProblem(longest)).toBeUndefined();
    expect(emailProblem(`${local}@${domainOf(MAX_EMAIL_LENGTH - 64)}`)).toBe(`must be at most ${MAX_EMAIL_LENGTH} characters`);
  });

  it('rejects an address whose canonical form grows past the limit', () => {
    // U+FB03 (ﬃ) is one character that NFKC expands to three.
    const email = `${'\uFB03'.repeat(100)}@example.com`;
    expect(email.length).toBeLessThanOrEqual(MAX_EMAIL_LENGTH);
    expect(emailProblem(email)).toBe(`must be at most ${MAX_EMAIL_LENGTH} characters`);
  });
});

describe('emailIssue', () => {
  it('names the field, and the row when given one', () => {
    expect(emailIssue('alice@example.com')).toBeUndefined();
    expect(emailIssue('nope', 'contact')).toEqual({ field: 'contact', reason: 'must contain exactly one @' });
    expect(emailIssue('nope', 'email', 3)).toEqual({ field: 'email', reason: 'must contain exactly one @', index: 3 });
  });
});
