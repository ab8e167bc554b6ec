import type { WireEvent } from '../wire/types.js';

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

/** A row of the ClickHouse `events` table (schemas/001_events.sql). */
export interface EventRow {
  site: string;
  /** Server receive time as 'YYYY-MM-DD hh:mm:ss.sss' UTC. */
  ts: string;
  type: WireEvent['type'];
  /** 64-bit keyed hashes as decimal strings (UInt64 in ClickHouse). */
  event_id: string;
  pageview_id: string;
  visitor_id: string;
  host: string;
  path: string;
  query: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_term: string;
  utm_content: string;
  referrer_host: string;
  referrer_path: string;
  ip_prefix: string;
  browser: string;
  browser_major: string;
  os: string;
  os_major: string;
  device_type: string;
  device_vendor: string;
  language: string;
  viewport_w: number;
  viewport_h: number;
  click_selector: string;
  click_label: string;
  click_x: number;
  click_y: number;
  page_x: number;
  page_y: number;
  visible_ms: number;
  scroll_depth: number;
  custom_name: string;
  custom_props: Record<string, string>;
}

/** Why an event or a request produced no row. Counted, never stored. */
export type DropReason = 'bot' | 'consent' | 'invalid_url' | 'host_mismatch' | 'invalid_custom';

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: DropReason };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const drop = <T = never>(reason: DropReason): Outcome<T> => ({ ok: false, reason });
