/**
 * The personal-data detector every scrubber shares (URL segments and values,
 * referrer hosts, click selectors and labels, custom event names and props,
 * device names): a value that looks like an email address, a UUID, a phone or
 * card number (Luhn), a long digit run or a random token is replaced by a
 * placeholder (`:email`, `:id`, `:phone`, `:card`, `:num`, `:token`).
 *
 * Every input is length-capped BEFORE a regex sees it, and every regex is a
 * plain character-class scan without nested quantifiers, so the cost is
 * linear in the (capped) input: no ReDoS.
 */

/** Longest path segment kept (a longer one is cut before it is scanned). */
export const MAX_SEGMENT = 256;
/** Longest query or utm value kept. */
export const MAX_VALUE = 128;

const EMAIL = /[^\s@/]@[^\s@/]*\.[a-z]/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
// Anchored, and the class cannot match '.', so a failed attempt never backtracks into a run.
const JWT = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}$/;
// A failed attempt stops within 16 characters of its start: linear.
const HEX_TOKEN = /[0-9a-f]{16,}/i;
const TOKEN_CHARS = /^[A-Za-z0-9_+/=.~-]+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$|^\d{2}[./-]\d{2}[./-]\d{4}$/;
/** Characters that may separate the digit groups of a phone or card number ("+49 (30) 123-45.67"). */
const DIGIT_SEPARATORS = new Set([' ', '\t', '(', ')', '.', '-', '\u00a0']);
const MAX_DECODE_ROUNDS = 4;
const VOWELS = new Set('aeiouyAEIOUY');

const isDigit = (c: number) => c >= 48 && c <= 57;

export function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/**
 * One linear pass over the digit groups of a value: a group is digits joined by
 * at most two separators ("4111 1111-1111 1111", "+49 (30) 1234567"). The worst
 * finding wins: a card number (13–19 digits passing Luhn) over a phone number
 * (7–15 digits written with separators or a leading '+', dates excepted) over a
 * long number (a run of 6+ digits, or any group of 13+ digits).
 */
export function classifyDigits(s: string): 'card' | 'phone' | 'num' | null {
  let found: 'phone' | 'num' | null = null;
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const plus = c === 43 && i + 1 < n && isDigit(s.charCodeAt(i + 1));
    if (!isDigit(c) && !plus) {
      i++;
      continue;
    }
    const start = i;
    if (plus) i++;
    let digits = '';
    let run = 0;
    let maxRun = 0;
    let separated = false;
    while (i < n) {
      if (isDigit(s.charCodeAt(i))) {
        digits += s[i];
        if (++run > maxRun) maxRun = run;
        i++;
        continue;
      }
      let k = i;
      while (k < n && k - i < 2 && DIGIT_SEPARATORS.has(s[k]!)) k++;
      if (k > i && k < n && isDigit(s.charCodeAt(k))) {
        separated = true;
        run = 0;
        i = k;
        continue;
      }
      break;
    }
    const nd = digits.length;
    if (nd >= 13 && nd <= 19 && luhn(digits)) return 'card';
    if (nd >= 7 && nd <= 15 && (plus || separated) && !ISO_DATE.test(s.slice(start, i))) found = 'phone';
    else if ((maxRun >= 6 || nd >= 13) && found === null) found = 'num';
  }
  return found;
}

/**
 * Random tokens (session ids, reset links, base64/base36 keys) mix letters and
 * digits, or cases, far more often than slugs and words do. Counted over the
 * letters and digits of the value: switches between classes (upper→lower is
 * not counted: that is how a capitalised word starts), and how much of the
 * value sits in "mixed" words (letters with digits, or an inner lower→upper).
 */
function looksLikeToken(s: string): boolean {
  if (JWT.test(s) || HEX_TOKEN.test(s)) return true;
  if (s.length < 16 || !TOKEN_CHARS.test(s)) return false;
  let alnum = 0;
  let letters = 0;
  let vowels = 0;
  let digitsSeen = false;
  let innerUpper = false;
  let switches = 0;
  let mixedChars = 0;
  let prev = 0; // 0 none, 1 upper, 2 lower, 3 digit
  let wordLen = 0;
  let wordLetters = false;
  let wordDigits = false;
  let wordInnerUpper = false;
  const endWord = () => {
    if ((wordLetters && wordDigits) || wordInnerUpper) mixedChars += wordLen;
    wordLen = 0;
    wordLetters = wordDigits = wordInnerUpper = false;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const cls = c >= 65 && c <= 90 ? 1 : c >= 97 && c <= 122 ? 2 : isDigit(c) ? 3 : 0;
    if (cls === 0) {
      endWord();
      continue;
    }
    alnum++;
    wordLen++;
    if (cls === 3) wordDigits = digitsSeen = true;
    else {
      wordLetters = true;
      letters++;
      if (VOWELS.has(s[i]!)) vowels++;
    }
    if (prev !== 0 && prev !== cls && !(prev === 1 && cls === 2)) switches++;
    if (prev === 2 && cls === 1) wordInnerUpper = innerUpper = true;
    prev = cls;
  }
  endWord();
  if (alnum < 16) return false;
  if (switches >= 0.25 * (alnum - 1) && mixedChars >= 0.6 * alnum) return true;
  // Words need vowels (about 2 letters in 5); random letters have about 1 in 5.
  return letters >= 12 && vowels < 0.22 * letters && (digitsSeen || innerUpper);
}

/** Percent-decoding, repeated (a double-encoded %2540 is still an '@'), never throwing. */
export function decodeValue(s: string): string {
  for (let round = 0; round < MAX_DECODE_ROUNDS && s.includes('%'); round++) {
    let next: string;
    try {
      next = decodeURIComponent(s);
    } catch {
      // Malformed escapes: decode each valid escape on its own so nothing hides behind a stray '%'.
      next = s.replace(/%[0-9A-Fa-f]{2}/g, (m) => {
        const code = parseInt(m.slice(1), 16);
        return code < 0x80 ? String.fromCharCode(code) : m;
      });
    }
    if (next === s) break;
    s = next;
  }
  return s;
}

/**
 * The placeholder for a path segment or value that looks like personal data,
 * or the value itself (decoded, capped) when it does not.
 */
export function scrubValue(raw: string, cap = MAX_SEGMENT): string {
  const s = decodeValue(raw.length > cap * 3 ? raw.slice(0, cap * 3) : raw).slice(0, cap);
  if (s === '') return s;
  if (EMAIL.test(s)) return ':email';
  if (UUID.test(s)) return ':id';
  const digits = classifyDigits(s);
  if (digits) return `:${digits}`;
  if (looksLikeToken(s)) return ':token';
  return s;
}

/** What the detector puts in place of personal data. A value that merely starts with ':' is not one of them. */
export const PLACEHOLDERS: ReadonlySet<string> = new Set([':email', ':id', ':phone', ':card', ':num', ':token']);

/** Longest slug kept (a path segment, a label, a kept query, utm or prop value); longer is free text. */
export const MAX_SLUG = 64;
/** Most words (runs between '-', '_', '.', '~') a slug may have; more reads as a sentence. */
export const MAX_SLUG_WORDS = 8;
/**
 * The alphabet of product and category slugs: lowercase letters (accented
 * ones too), digits, and '-', '_', '.', '~' between them. Names and messages as
 * people type them carry capitals, spaces, apostrophes, '@', '+' or letters
 * of scripts without case; none of those is in it.
 */
const SLUG = /^[\p{Ll}\p{Nd}._~-]+$/u;

/** True when `s` is a slug: the slug alphabet, at most MAX_SLUG characters and MAX_SLUG_WORDS words, no placeholder. */
export function isSlug(s: string): boolean {
  if (s.length === 0 || s.length > MAX_SLUG || !SLUG.test(s)) return false;
  let words = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const sep = s[i] === '-' || s[i] === '_' || s[i] === '.' || s[i] === '~';
    if (!sep && !inWord) words++;
    inWord = !sep;
  }
  return words > 0 && words <= MAX_SLUG_WORDS;
}

/**
 * A value that is kept only as a slug: its detector placeholder when it looks
 * like personal data (`:email`, `:phone`, …), itself when it is a slug, and
 * `:id` when it is anything else (free text: a name, an address, a message).
 * `lower`: compare and keep it lowercased (utm and query values, where case
 * carries nothing); path segments keep their case, so a capital is not slug.
 */
export function slugOrPlaceholder(raw: string, opts: { lower?: boolean; cap?: number } = {}): string {
  let s = scrubValue(raw, opts.cap ?? MAX_SEGMENT);
  if (s === '' || PLACEHOLDERS.has(s)) return s;
  if (opts.lower) s = s.toLowerCase();
  return isSlug(s) ? s : ':id';
}
