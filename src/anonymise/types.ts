export interface AnonymiseConfig {
  /** IPv4 prefix kept, 0..24 (never wider than /24). */
  ipv4Prefix: number;
  /** IPv6 prefix kept, 0..48 (never wider than /48). */
  ipv6Prefix: number;
  /** site key → allowed hosts, used to tell internal referrers from external. */
  sites: Readonly<Record<string, readonly string[]>>;
  /** Query parameter names kept besides utm_*. */
  queryAllowlist: readonly string[];
  /** utm_* parameters kept (UTM_PARAMS; utm_term and utm_content off by default). */
  utmParams?: readonly string[];
  /** Per-site rules for free text (SITES in its object form); a site without them gets the defaults. */
  siteRules?: Readonly<Record<string, SiteRules>>;
}

/** A custom prop's value rule: a number, a boolean, a slug, or one of a fixed list of values. */
export type PropRule = 'number' | 'boolean' | 'slug' | readonly string[];

/** What a site allows beyond the defaults (README, "Sites and route templates"). */
export interface SiteRules {
  /** Route templates: `/wishlist/:id`, `/account/*` (src/anonymise/routes.ts). */
  routes: readonly string[];
  /** Query parameters kept besides utm_* and QUERY_ALLOWLIST. */
  query: readonly string[];
  /** ids and classes kept in click selectors although they are not design tokens. */
  selectors: readonly string[];
  /** data-track labels kept although they are not design tokens. */
  labels: readonly string[];
  /** Custom prop value rules by key; a key without a rule keeps numbers, booleans and slugs. */
  props: Readonly<Record<string, PropRule>>;
}

export const NO_SITE_RULES: SiteRules = Object.freeze({ routes: [], query: [], selectors: [], labels: [], props: {} });

/** A row of the ClickHouse `events` table, derived from its column table in row.ts. */
export type { EventRow } from './row.js';

/** Why an event or a request produced no row. Counted, never stored. */
export type DropReason = 'bot' | 'consent' | 'invalid_url' | 'host_mismatch' | 'invalid_custom' | 'invalid_item';

/** Why a value inside a stored event was dropped (the event itself is kept). Counted, never stored. */
export type ValueDropReason = 'prop_free_text' | 'prop_rule' | 'label' | 'item' | 'variant';

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const drop = <T = never>(reason: DropReason): Outcome<T> => ({ ok: false, reason });
