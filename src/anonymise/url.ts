/**
 * URL and referrer scrubbing (docs/design.md §3.5). Fragments and userinfo go,
 * query parameters go except utm_* and configured keys, and any path segment
 * or kept value that looks like personal data becomes a placeholder (the
 * detector is src/anonymise/pii.ts). Every input is length-capped before it
 * is parsed or scanned.
 */
import { hostIsSites } from '../wire/hosts.js';
import { MAX_URL } from '../wire/limits.js';
import { decodeValue, MAX_SEGMENT, MAX_VALUE, scrubValue } from './pii.js';

export function scrubPath(pathname: string): string {
  const capped = pathname.length > MAX_URL ? pathname.slice(0, MAX_URL) : pathname;
  const parts = capped.split('/');
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg !== '') {
      // Path parameters (";jsessionid=…") carry session ids, never a page: dropped, even when encoded as %3B.
      const decoded = decodeValue(seg.length > MAX_SEGMENT * 3 ? seg.slice(0, MAX_SEGMENT * 3) : seg);
      const semi = decoded.indexOf(';');
      const clean = scrubValue(semi === -1 ? decoded : decoded.slice(0, semi));
      // Re-encode what was decoded so the stored path stays a path (no '/' from %2F).
      parts[i] = clean.startsWith(':') ? clean : encodeURIComponent(clean).replace(/%2C/g, ',');
    }
  }
  return parts.join('/') || '/';
}

export interface ScrubbedUrl {
  /** Lowercased host name, without port or userinfo. */
  host: string;
  /** Host with its port when it has one (site hosts may be configured with a port). */
  hostPort: string;
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
      else if (opts.allowlist.includes(k)) {
        const clean = scrubValue(v, MAX_VALUE);
        kept.push(`${k}=${clean.startsWith(':') ? clean : encodeURIComponent(clean)}`);
      }
    }
  }
  kept.sort();
  // URL already lowercases the host and drops userinfo from .hostname; the fragment is never read.
  return { host: u.hostname, hostPort: u.host, path: scrubPath(u.pathname), query: kept.join('&'), utm };
}

/** Referrer: internal (one of the site's hosts) → path only; external → host only; invalid → nothing. */
export function scrubReferrer(raw: string | undefined, siteHosts: readonly string[]): { host: string; path: string } {
  if (!raw) return { host: '', path: '' };
  const u = parseUrl(raw);
  if (!u) return { host: '', path: '' };
  if (hostIsSites(u, siteHosts)) return { host: '', path: scrubPath(u.pathname) };
  return { host: scrubHost(u.hostname), path: '' };
}

const IPV4_HOST = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * An external referrer's host, with labels that look like personal data or
 * tokens replaced ("4111111111111111.cdn.example" → ":card.cdn.example") and
 * an IP-address host reduced to ':ip' (WHATWG URL already turned legacy IPv4
 * forms into dotted quads, and IPv6 hosts keep their brackets).
 */
export function scrubHost(hostname: string): string {
  const h = hostname.slice(0, 253);
  if (h.startsWith('[') || IPV4_HOST.test(h)) return ':ip';
  return h
    .split('.')
    .map((label) => (label === '' ? label : scrubValue(label, 63)))
    .join('.');
}
