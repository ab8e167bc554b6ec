export interface AnonymiseConfig {
  /** IPv4 prefix kept, 0..24 (never wider than /24). */
  ipv4Prefix: number;
  /** IPv6 prefix kept, 0..48 (never wider than /48). */
  ipv6Prefix: number;
  /** site key → allowed hosts, used to tell internal referrers from external. */
  sites: Readonly<Record<string, readonly string[]>>;
  /** Query parameter names kept besides utm_*. */
  queryAllowlist: readonly string[];
}

/** A row of the ClickHouse `events` table, derived from its column table in row.ts. */
export type { EventRow } from './row.js';

/** Why an event or a request produced no row. Counted, never stored. */
export type DropReason = 'bot' | 'consent' | 'invalid_url' | 'host_mismatch' | 'invalid_custom';

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const drop = <T = never>(reason: DropReason): Outcome<T> => ({ ok: false, reason });
