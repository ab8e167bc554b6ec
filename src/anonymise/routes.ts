/**
 * Page paths without free text (docs/design.md §3.5).
 *
 * A shop knows where its URLs carry a person: `/wishlist/zelda-quixote`,
 * `/account/orders/88412`. It says so with route templates per site (SITES,
 * README "Sites and route templates"):
 *
 *   "/wishlist/:id"    a segment matched by `:name` is stored as `:name`
 *   "/account/*"       `*` (last only) matches the rest, stored as `*`
 *   "/products/:slug"  literal segments match themselves and are kept
 *
 * The first template that matches the whole path decides. A path that
 * matches none is scrubbed segment by segment:
 *   - what the detector recognises becomes its placeholder (`:email`, `:num`, …);
 *   - a segment right after one naming a person or their records
 *     (`wishlist`, `user`, `customer`, `account`, `order`, `invoice`, …)
 *     becomes `:id`: that position holds whose page it is;
 *   - a segment outside the slug alphabet or length (capitals, spaces,
 *     apostrophes, '+', letters of scripts without case, more than 64
 *     characters or 8 words) becomes `:id`;
 *   - anything else, product and category slugs included, stays readable.
 * Pure and linear: at most MAX_SEGMENTS segments, each length-capped.
 */
import { MAX_URL } from '../wire/limits.js';
import { decodeValue, MAX_SEGMENT, slugOrPlaceholder } from './pii.js';

/** More segments than this are cut: no real page is that deep. */
const MAX_SEGMENTS = 32;

/** Segments after which the next one says whose page it is. */
const SUBJECT_SEGMENTS: ReadonlySet<string> = new Set([
  'wishlist', 'wishlists', 'user', 'users', 'u', 'customer', 'customers', 'member', 'members', 'profile', 'profiles', 'people',
  'person', 'account', 'accounts', 'order', 'orders', 'invoice', 'invoices', 'receipt', 'receipts', 'address', 'addresses',
  'registry', 'gift-registry', 'reset-password', 'password-reset', 'unsubscribe', 'verify', 'confirm', 'invite', 'invitation',
  'tracking', 'track-order', 'shipment', 'shipments', 'booking', 'bookings', 'ticket', 'tickets', 'subscription', 'subscriptions',
]);

export type TemplateSegment = { kind: 'literal'; text: string } | { kind: 'param'; name: string } | { kind: 'rest' };

/** A parsed route template; invalid templates are refused by the configuration (src/config/config.ts). */
export type RouteTemplate = readonly TemplateSegment[];

export const ROUTE_TEMPLATE = /^\/(?:[A-Za-z0-9._~-]+|:[a-z][a-z0-9_]{0,31}|\*)?(?:\/(?:[A-Za-z0-9._~-]+|:[a-z][a-z0-9_]{0,31}|\*))*\/?$/;

export function parseTemplate(t: string): RouteTemplate {
  const segs = t.split('/').filter((s) => s !== '');
  return segs.map((s, i): TemplateSegment => {
    if (s === '*') {
      if (i !== segs.length - 1) throw new Error(`route template ${JSON.stringify(t)}: '*' may only end a template`);
      return { kind: 'rest' };
    }
    if (s.startsWith(':')) return { kind: 'param', name: s };
    return { kind: 'literal', text: s };
  });
}

const parsed = new Map<string, RouteTemplate>();
function template(t: string): RouteTemplate {
  let p = parsed.get(t);
  if (!p) {
    p = parseTemplate(t);
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(t, p);
  }
  return p;
}

/** The stored form of `segs` under the first matching template, or null when none matches. */
function byTemplate(segs: readonly string[], templates: readonly string[]): string[] | null {
  for (const t of templates) {
    const tpl = template(t);
    const out: string[] = [];
    let ok = true;
    let i = 0;
    for (; i < tpl.length; i++) {
      const ts = tpl[i]!;
      if (ts.kind === 'rest') {
        out.push('*');
        i = tpl.length;
        break;
      }
      const seg = segs[i];
      if (seg === undefined || (ts.kind === 'literal' && seg !== ts.text)) {
        ok = false;
        break;
      }
      out.push(ts.kind === 'literal' ? ts.text : ts.name);
    }
    const rest = tpl.length > 0 && tpl[tpl.length - 1]!.kind === 'rest';
    if (ok && (rest || segs.length === tpl.length)) return out;
  }
  return null;
}

/** One decoded segment without its path parameters (";jsessionid=…" carries a session, never a page). */
function decodeSegment(seg: string): string {
  const decoded = decodeValue(seg.length > MAX_SEGMENT * 3 ? seg.slice(0, MAX_SEGMENT * 3) : seg);
  const semi = decoded.indexOf(';');
  return semi === -1 ? decoded : decoded.slice(0, semi);
}

/** Re-encodes a kept segment so the stored path stays a path (no '/' from %2F). */
function encodeSegment(s: string): string {
  return s.startsWith(':') || s === '*' ? s : encodeURIComponent(s).replace(/%2C/g, ',');
}

/** The stored path: templates first, else the segment rules above. */
export function scrubPath(pathname: string, templates: readonly string[] = []): string {
  const capped = pathname.length > MAX_URL ? pathname.slice(0, MAX_URL) : pathname;
  const raw = capped.split('/').filter((s) => s !== '');
  const trailing = raw.length > 0 && capped.endsWith('/');
  const segs = raw.slice(0, MAX_SEGMENTS).map(decodeSegment);
  // A segment emptied by dropping its path parameters is not a segment.
  const parts = segs.filter((s) => s !== '');
  const templated = templates.length > 0 ? byTemplate(parts, templates) : null;
  let out: string[];
  if (templated) out = templated;
  else {
    out = [];
    let afterSubject = false;
    for (const seg of parts) {
      const clean = slugOrPlaceholder(seg);
      out.push(afterSubject && !clean.startsWith(':') ? ':id' : clean);
      afterSubject = SUBJECT_SEGMENTS.has(seg.toLowerCase());
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.map(encodeSegment).join('/') + (trailing && !templated ? '/' : '');
}
