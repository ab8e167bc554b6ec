/**
 * URL and referrer scrubbing (DESIGN §3 item 5). Fragments and userinfo go,
 * query parameters go except utm_* and configured keys, and any path segment
 * or kept value that looks like personal data becomes a placeholder.
 *
 * Every input is length-capped BEFORE a regex sees it, and every regex is a
 * plain character-class scan without nested quantifiers, so the cost is
 * linear in the (capped) input: no ReDoS.
 */
export const MAX_URL = 2048;
export const MAX_SEGMENT = 256;
export const MAX_VALUE = 128;

const EMAIL = /[^\s@/]@[^\s@/]*\.[a-z]/i;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const JWT = /^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}$/;
const HEX_TOKEN = /[0-9a-f]{16,}/i;
const TOKEN_CHARS = /^[A-Za-z0-9_+/=-]{20,}$/;
const PHONE_CHARS = /^\+?[\d\s().-]{7,}$/;
const CARD_CHARS = /^[\d\s-]{13,}$/;
const DIGIT_RUN = /\d{6,}/;

function digitsOf(s: string): string {
  let d = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) d += s[i];
  }
  return d;
}

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

function looksLikeToken(s: string): boolean {
  if (JWT.test(s) || HEX_TOKEN.test(s)) return true;
  if (!TOKEN_CHARS.test(s)) return false;
  // Random tokens mix cases and digits; slugs ("usb-c-65w-charger-for-laptops") do not.
  let upper = false;
  let lower = false;
  let digit = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 48 && c <= 57) digit = true;
  }
  return (upper && lower && digit) || (digit && (upper || lower) && s.length >= 32 && !s.includes('-'));
}

function safeDecode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    // Malformed escapes: decode what can be decoded (e.g. %40) so nothing hides behind them.
    return s.replace(/%40/gi, '@').replace(/%2e/gi, '.').replace(/%2b/gi, '+').replace(/%20/g, ' ');
  }
}

/**
 * The placeholder for a path segment or value that looks like personal data,
 * or the value itself (decoded, capped) when it does not.
 */
export function scrubValue(raw: string, cap = MAX_SEGMENT): string {
  const s = safeDecode(raw.length > cap * 3 ? raw.slice(0, cap * 3) : raw).slice(0, cap);
  if (s === '') return s;
  if (EMAIL.test(s)) return ':email';
  if (UUID.test(s)) return ':id';
  const digits = digitsOf(s);
  if (digits.length >= 13 && digits.length <= 19 && CARD_CHARS.test(s) && luhn(digits)) return ':card';
  if (digits.length >= 7 && digits.length <= 15 && PHONE_CHARS.test(s) && (s.startsWith('+') || /[\s().-]/.test(s))) return ':phone';
  if (DIGIT_RUN.test(s)) return ':num';
  if (looksLikeToken(s)) return ':token';
  return s;
}

export function scrubPath(pathname: string): string {
  const capped = pathname.length > MAX_URL ? pathname.slice(0, MAX_URL) : pathname;
  const parts = capped.split('/');
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg !== '') {
      const clean = scrubValue(seg);
      // Re-encode what was decoded so the stored path stays a path (no '/' from %2F).
      parts[i] = clean.startsWith(':') ? clean : encodeURIComponent(clean).replace(/%2C/g, ',');
    }
  }
  return parts.join('/') || '/';
}

export interface ScrubbedUrl {
  host: string;
  path: string;
  /** Kept, non-utm, allowlisted parameters as `k=v&…`, values scrubbed. */
  query: string;
  utm: { source: string; medium: string; campaign: string; term: string; content: string };
}

const UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;

function parseUrl(raw: string): URL | null {
  if (typeof raw !== 'string' || raw.length === 0) return null;
  try {
    const u = new URL(raw.length > MAX_URL ? raw.slice(0, MAX_URL) : raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

/** Scrubs a page URL; null if it is not an http(s) URL. */
export function scrubUrl(raw: string, opts: { allowlist: readonly string[] }): ScrubbedUrl | null {
  const u = parseUrl(raw);
  if (!u) return null;
  const utm = { source: '', medium: '', campaign: '', term: '', content: '' };
  const kept: string[] = [];
  if (u.search.length > 1) {
    for (const [k, v] of u.searchParams) {
      const utmIndex = (UTM as readonly string[]).indexOf(k);
      if (utmIndex !== -1) utm[UTM[utmIndex]!.slice(4) as keyof typeof utm] = scrubValue(v, MAX_VALUE);
      else if (opts.allowlist.includes(k)) kept.push(`${k}=${encodeURIComponent(scrubValue(v, MAX_VALUE))}`);
    }
  }
  kept.sort();
  // URL already lowercases the host and drops userinfo from .hostname; the fragment is never read.
  return { host: u.hostname, path: scrubPath(u.pathname), query: kept.join('&'), utm };
}

export function hostAllowed(host: string, hosts: readonly string[]): boolean {
  return hosts.includes(host);
}

/** Referrer: internal (one of the site's hosts) → path only; external → host only; invalid → nothing. */
export function scrubReferrer(raw: string | undefined, siteHosts: readonly string[]): { host: string; path: string } {
  if (!raw) return { host: '', path: '' };
  const u = parseUrl(raw);
  if (!u) return { host: '', path: '' };
  if (hostAllowed(u.hostname, siteHosts) || hostAllowed(u.host, siteHosts)) return { host: '', path: scrubPath(u.pathname) };
  return { host: u.hostname.slice(0, 253), path: '' };
}
