import { domainToASCII } from 'node:url';
import type { FieldIssue } from '../errors/domain-error';

export const MAX_EMAIL_LENGTH = 254;

// Control characters and invisible format characters (zero-width joiners, bidi overrides) could
// make two addresses look alike while differing; they are refused outright.
const FORBIDDEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@.]+$/u;
// The ASCII form of a domain: letter-digit-hyphen labels (underscores tolerated, as DNS does),
// and a top-level label that is not a number (the URL parser reads `0x7f.1` as 127.0.0.1).
const ASCII_DOMAIN = /^(?:[a-z0-9_-]+\.)+[a-z0-9-]*[a-z-][a-z0-9-]*$/;

// ASCII is its own NFKC form and folds as plain lower case: the fast path of a bulk import.
const ASCII = /^[\x00-\x7f]*$/;

function nfkc(text: string): string {
  return ASCII.test(text) ? text : text.normalize('NFKC');
}

// Code points where JavaScript's case mappings (upper, then lower) differ from Unicode full case
// folding (CaseFolding.txt, statuses C and F): dotless ı has no folding (upper-casing would turn it
// into i), and capital ẞ folds to ss (its upper case is itself, so it would only reach ß).
const FOLDING_EXCEPTIONS = new Map([
  ['\u0131', '\u0131'],
  ['\u1E9E', 'ss'],
]);

// Full case folding, one code point at a time: upper-casing first reaches the full mappings
// (ß to SS, ŉ to ʼN), and lower-casing a lone character never applies the final-sigma rule, so
// Σ, σ and ς all become σ. Cherokee folds to its lower-case letters here (CaseFolding.txt picks the
// upper-case ones): the same classes of equal strings, another representative.
function foldCase(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  let folded = '';
  for (const char of text) folded += FOLDING_EXCEPTIONS.get(char) ?? char.toUpperCase().toLowerCase();
  return folded;
}

// UTS-46 (IDNA) ASCII form of a domain, or undefined when it is not a valid domain name. A `%`
// is refused before the URL parser would percent-decode it into another domain. The conversion
// is the costly part of an email's canonical form and a batch repeats a few domains thousands of
// times, so recent answers are kept (a bounded set, cleared when full).
const asciiDomains = new Map<string, string | undefined>();
const ASCII_DOMAINS_KEPT = 1000;

function asciiDomain(domain: string): string | undefined {
  if (asciiDomains.has(domain)) return asciiDomains.get(domain);
  const ascii = domain.includes('%') ? '' : domainToASCII(domain);
  const answer = ASCII_DOMAIN.test(ascii) ? ascii : undefined;
  if (domain.length > MAX_EMAIL_LENGTH) return answer;
  if (asciiDomains.size >= ASCII_DOMAINS_KEPT) asciiDomains.clear();
  asciiDomains.set(domain, answer);
  return answer;
}

function splitAtLastAt(email: string): [string, string] | undefined {
  const at = email.lastIndexOf('@');
  return at < 0 ? undefined : [email.slice(0, at), email.slice(at + 1)];
}

// The one canonical form of an email, used for storage, uniqueness, lookup, upsert and login:
// trimmed and NFKC-normalized (full-width and compatibility forms become their plain letters);
// the local part fully case-folded (then NFKC again, as folding can decompose); the domain in its
// IDNA ASCII form (xn--...), which UTS-46 lower-cases itself. A domain that is not a valid IDN
// keeps its folded form: such an address never passes emailProblem, so it is only ever looked up.
export function canonicalEmail(email: string): string {
  const normalized = nfkc(email.trim());
  const parts = splitAtLastAt(normalized);
  if (!parts) return nfkc(foldCase(normalized));
  const [local, domain] = parts;
  return `${nfkc(foldCase(local))}@${asciiDomain(domain) ?? nfkc(foldCase(domain))}`;
}

// Returns the problem with an email, or undefined when it is acceptable.
export function emailProblem(email: unknown): string | undefined {
  if (typeof email !== 'string') return 'must be a string';
  const trimmed = email.trim();
  if (trimmed.length === 0) return 'must not be empty';
  const canonical = trimmed.length > MAX_EMAIL_LENGTH ? undefined : canonicalEmail(trimmed);
  if (canonical === undefined || canonical.length > MAX_EMAIL_LENGTH) return `must be at most ${MAX_EMAIL_LENGTH} characters`;
  if (FORBIDDEN_CHARACTERS.test(trimmed)) return 'must not contain control or invisible characters';
  if (trimmed.split('@').length !== 2) return 'must contain exactly one @';
  if (!SHAPE.test(canonical)) return 'must look like local@domain.tld';
  if (asciiDomain(splitAtLastAt(nfkc(trimmed))?.[1] ?? '') === undefined) return 'must have a valid domain name (IDNA)';
  return undefined;
}

export function emailIssue(email: unknown, field = 'email', index?: number): FieldIssue | undefined {
  const reason = emailProblem(email);
  if (reason === undefined) return undefined;
  return index === undefined ? { field, reason } : { field, reason, index };
}
