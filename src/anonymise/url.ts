/**
 * URL and referrer scrubbing (docs/design.md §3.5). Fragments and userinfo go,
 * query parameters go except the kept utm_* (UTM_PARAMS: source, medium and
 * campaign by default; term and content are search words and ad text, free
 * text by nature) and configured keys; paths go through the site's route
 * templates and the segment rules (src/anonymise/routes.ts); a kept value is
 * kept only as a slug (lowercased), else it becomes a placeholder (the
 * detector is src/anonymise/pii.ts). An external referrer is kept as its
 * registrable domain only. Every input is length-capped before it is parsed
 * or scanned.
 */
import { getDomain } from 'tldts';
import { hostIsSites } from '../wire/hosts.js';
import { MAX_URL } from '../wire/limits.js';
import { MAX_VALUE, slugOrPlaceholder } from './pii.js';
import { scrubPath } from './routes.js';

export { scrubPath };

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

export const UTM_PARAMS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
export type UtmParam = (typeof UTM_PARAMS)[number];
/** Kept unless configured otherwise: term and content are typed search words and ad copy. */
export const DEFAULT_UTM_PARAMS: readonly UtmParam[] = ['utm_source', 'utm_medium', 'utm_campaign'];

export interface UrlRules {
  /** Query parameters kept besides utm_* (QUERY_ALLOWLIST and the site's own). */
  allowlist: readonly string[];
  /** utm_* parameters kept (UTM_PARAMS); default source, medium, campaign. */
  utm?: readonly string[];
  /** The site's route templates (src/anonymise/routes.ts). */
  routes?: readonly string[];
}

/** A kept utm or query value: a slug (lowercased; search words and ad text with spaces joined by '-'), else a placeholder. */
function keptValue(v: string, words: boolean): string {
  return slugOrPlaceholder(words ? v.trim().replace(/[\s+]+/g, '-') : v, { lower: true, cap: MAX_VALUE });
}

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
export function scrubUrl(raw: string, opts: UrlRules): ScrubbedUrl | null {
  const u = parseUrl(raw);
  if (!u) return null;
  const utm = { source: '', medium: '', campaign: '', term: '', content: '' };
  const keepUtm = opts.utm ?? DEFAULT_UTM_PARAMS;
  const kept: string[] = [];
  if (u.search.length > 1) {
    for (const [k, v] of u.searchParams) {
      if (k.startsWith('utm_')) {
        const i = (UTM_PARAMS as readonly string[]).indexOf(k);
        if (i !== -1 && keepUtm.includes(k)) utm[UTM_PARAMS[i]!.slice(4) as keyof typeof utm] = keptValue(v, k === 'utm_term' || k === 'utm_content');
      } else if (opts.allowlist.includes(k)) {
        const clean = keptValue(v, false);
        kept.push(`${k}=${clean.startsWith(':') ? clean : encodeURIComponent(clean)}`);
      }
    }
  }
  kept.sort();
  // URL already lowercases the host and drops userinfo from .hostname; the fragment is never read.
  return { host: u.hostname, hostPort: u.host, path: scrubPath(u.pathname, opts.routes), query: kept.join('&'), utm };
}

/** Referrer: internal (one of the site's hosts) → path only (templates apply); external → registrable domain only; invalid → nothing. */
export function scrubReferrer(raw: string | undefined, siteHosts: readonly string[], routes: readonly string[] = []): { host: string; path: string } {
  if (!raw) return { host: '', path: '' };
  // The tracker sends an internal referrer as its path alone (never its query or fragment).
  if (raw.startsWith('/') && !raw.startsWith('//')) return { host: '', path: scrubPath(raw.slice(0, MAX_URL).split(/[?#]/)[0]!, routes) };
  const u = parseUrl(raw);
  if (!u) return { host: '', path: '' };
  if (hostIsSites(u, siteHosts)) return { host: '', path: scrubPath(u.pathname, routes) };
  return { host: scrubHost(u.hostname), path: '' };
}

const IPV4_HOST = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * An external referrer's host as its registrable domain ("mail.zelda-quixote.example.net"
 * → "example.net", "www.google.co.uk" → "google.co.uk"): subdomains name
 * people, shops on a platform and mailboxes; the registrable domain is the
 * source an analyst needs. Public Suffix List by tldts, ICANN section only,
 * so "jane.github.io" is "github.io". An IP-address host is ':ip' (WHATWG URL
 * already turned legacy IPv4 forms into dotted quads, IPv6 hosts keep their
 * brackets); a host without a registrable domain (localhost, a bare suffix)
 * is ':host'; a registrable label that looks like personal data or is not a
 * slug is replaced like a path segment ("4111111111111111.com" → ":card.com").
 */
export function scrubHost(hostname: string): string {
  const h = hostname.slice(0, 253);
  if (h.startsWith('[') || IPV4_HOST.test(h)) return ':ip';
  const domain = getDomain(h, { allowPrivateDomains: false, extractHostname: false });
  if (!domain) return ':host';
  const dot = domain.indexOf('.');
  const label = dot === -1 ? domain : domain.slice(0, dot);
  return slugOrPlaceholder(label, { lower: true, cap: 63 }) + (dot === -1 ? '' : domain.slice(dot));
}
