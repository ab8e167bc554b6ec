/**
 * The columns of an `events` row, once: name, ClickHouse type (as
 * system.columns reports it for the migrated table), the value of a row no
 * rule has filled yet, and what the column holds and which anonymiser rule
 * produced it (printed by `npm run privacy-report`).
 *
 * Everything else is derived from this table: the EventRow type, the column
 * list of the INSERT, the empty row the pipeline fills, and the
 * JSONCompactEachRow encoder. schemas/001_events.sql stays the SQL source of
 * the table (migrations are SQL); src/store/columns.integration.test.ts checks
 * that the migrated table has exactly these names, in this order, with these
 * types.
 */
import type { WireEvent } from '../wire/types.js';

interface Column<N extends string, T> {
  readonly name: N;
  /** The type as `system.columns.type` reports it (codecs are not part of it). */
  readonly type: string;
  /** The value before any rule fills the column. */
  readonly empty: T;
  /** What the column holds. */
  readonly holds: string;
  /** The rule (src/anonymise/…) that produced it. */
  readonly rule: string;
  /**
   * Who reads it besides the materialised views and views found in the store (which the privacy report finds
   * itself): code that queries the column, or, for a column kept for a reader not built yet, `awaiting: …`.
   * Empty when the store's views are its readers. test/column-readers.integration.test.ts fails on a column
   * with no reader at all.
   */
  readonly readBy: string;
}

const column = <const N extends string, T>(name: N, type: string, empty: T, holds: string, rule: string, readBy = ''): Column<N, T> => ({ name, type, empty, holds, rule, readBy });
const text = <const N extends string>(name: N, type: string, holds: string, rule: string, readBy = '') => column<N, string>(name, type, '', holds, rule, readBy);
const num = <const N extends string>(name: N, type: string, holds: string, rule: string, readBy = '') => column<N, number>(name, type, 0, holds, rule, readBy);
const LC = 'LowCardinality(String)';

/** The `events` table, in schema order. */
export const EVENT_TABLE = [
  text('site', LC, 'configured site key', 'collector: must be a configured site (src/wire/validate.ts)'),
  /** Sent as 'YYYY-MM-DD hh:mm:ss.000' UTC (pipeline.ts formatTimestamp). */
  text('ts', "DateTime64(3, 'UTC')", 'server receive time, to the second (the type keeps ms; they are always 0)', 'collector clock, not the client timestamp, cut to the second (pipeline.ts formatTimestamp)'),
  column<'type', WireEvent['type']>(
    'type',
    "Enum8('pageview' = 1, 'click' = 2, 'engagement' = 3, 'custom' = 4, 'impression' = 5)",
    'pageview',
    'event type: pageview, click, engagement, custom, impression (a product tile seen: schemas/020)',
    'wire format v1 enum',
  ),
  // 64-bit keyed hashes, sent as decimal strings (UInt64 does not fit a JS number).
  text(
    'event_id',
    'UInt64',
    '64-bit keyed hash of the event',
    "SHA-256(page-view secret, client event id), first 64 bits; the secret is the last 192 bits of the page view's HMAC under the day key, never stored (ids.ts eventId)",
    'src/store/dedup.ts (a redelivered job skips rows already stored); the ReplacingMergeTree key (a duplicate collapses)',
  ),
  text('pageview_id', 'UInt64', '64-bit keyed hash of the page view', 'HMAC-SHA256(day key, site, visitor id, client page-view id), first 64 bits (ids.ts pageviewKey)'),
  text(
    'visitor_id',
    'UInt64',
    'daily visitor hash; links events of one day only',
    'HMAC-SHA256(day key, site, full IP, full UA), first 64 bits; day key = HMAC-SHA256(worker secret, day salt): the salt is gone after ≤ 48 h, the worker secret never leaves the workers (ids.ts visitorId, salts.ts dayIdKey)',
  ),
  text('path', 'String', 'page path with personal data replaced by :email :phone :card :num :id :token', 'fragment and path parameters dropped, segments scrubbed (url.ts scrubPath)'),
  text(
    'query',
    'String',
    'allowlisted query parameters only (QUERY_ALLOWLIST, the site\'s query), values as lowercase slugs',
    'every other parameter dropped (url.ts scrubUrl)',
  ),
  text('utm_source', LC, 'utm_source value, scrubbed', 'pii.ts scrubValue'),
  text('utm_medium', LC, 'utm_medium value, scrubbed', 'pii.ts scrubValue'),
  text('utm_campaign', LC, 'utm_campaign value, scrubbed', 'pii.ts scrubValue'),
  text('utm_term', LC, 'utm_term as a lowercase slug; empty unless UTM_PARAMS lists it', 'url.ts scrubUrl', 'awaiting: opt-in only (UTM_PARAMS); empty by default, no view reads it'),
  text('utm_content', LC, 'utm_content as a lowercase slug; empty unless UTM_PARAMS lists it', 'url.ts scrubUrl', 'awaiting: opt-in only (UTM_PARAMS); empty by default, no view reads it'),
  text('referrer_host', LC, 'external referrer: registrable domain only (IP hosts as :ip)', 'url.ts scrubReferrer / scrubHost'),
  text(
    'ip_prefix',
    'String',
    'client network: IPv4 /IPV4_PREFIX, IPv6 /IPV6_PREFIX; embedded IPv4 as IPv4; "" when refused; reset to "" two days after ts (column TTL, schemas/008)',
    'strict parse + truncation (ip.ts truncateIp)',
  ),
  text('browser', LC, 'browser family', 'ua-parser-js 1.0 family name (device.ts)'),
  text('os', LC, 'OS family', 'device.ts'),
  text('device_type', LC, 'device type (desktop when absent)', 'device.ts; no model, no UA string'),
  num('viewport_w', 'UInt16', 'viewport width bucket (common breakpoints)', 'viewport.ts bucketWidth'),
  num('viewport_h', 'UInt16', 'viewport height, 100 px buckets, ≤ 2000', 'viewport.ts bucketHeight'),
  text('click_selector', 'String', 'CSS path of tags, safe ids and classes; no text, no attribute values', 'click.ts sanitiseSelector'),
  text('click_label', LC, 'developer-set data-track label, if it is a safe constant', 'click.ts sanitiseLabel'),
  num('click_x', 'Float32', 'click position as a fraction of the element width, 0.01 steps', 'click.ts sanitiseClick'),
  num('click_y', 'Float32', 'click position as a fraction of the element height, 0.01 steps', 'click.ts sanitiseClick'),
  num('page_x', 'UInt32', 'page x position, 10 px buckets, measured from the document\'s centre line and placed on a document of the width bucket\'s width (the document width itself is not stored)', 'click.ts sanitiseClick'),
  num('page_y', 'UInt32', 'page y position, 10 px buckets', 'click.ts sanitiseClick'),
  num('visible_ms', 'UInt32', 'page stay (visible time), ms, ≤ 24 h', 'pipeline.ts'),
  num('scroll_depth', 'UInt8', 'maximum scroll depth, percent', 'pipeline.ts'),
  text('custom_name', LC, 'custom event name (a developer constant)', 'custom.ts sanitiseCustom'),
  column<'custom_props', Record<string, string>>(
    'custom_props',
    'Map(LowCardinality(String), String)',
    {},
    '≤ 20 props; keys identifying a person or their transaction (user, customer, session, email, phone, order, payment, card, token, ip, address, name, …) and ids of anything but page objects dropped (product, sku, item, category ids kept); values scrubbed, ≤ 128 chars',
    'custom.ts sanitiseCustom',
  ),
  // Product tiles and layout experiments (issue 13, schemas/020): the shop's own constants, slugs only.
  text('item_id', LC, 'product tile of an impression or a click inside it (data-track-item), a lowercase slug', 'items.ts sanitiseItem (slug rule; anything else dropped)'),
  text('item_list', LC, 'the list the tile is in (data-track-list), a lowercase slug or ""', 'items.ts sanitiseItem'),
  num('item_pos', 'UInt16', 'the tile\'s 1-based position in its list (0: none sent)', 'items.ts sanitiseItem (1–10,000)'),
  column<'variants', Record<string, string>>(
    'variants',
    'Map(LowCardinality(String), LowCardinality(String))',
    {},
    'layout experiments of the page view: experiment → arm, both lowercase slugs (≤ 5)',
    'items.ts sanitiseVariants (slug rule; pairs that are not slugs dropped)',
  ),
  // Heatmaps and frustration (issue 14, schemas/030).
  num('block_x', 'Float32', 'click position as a fraction of the width of its block: the product tile it landed in (item_id), else the data-track element named by click_label; 0.01 steps; 0 outside a kept one', 'click.ts sanitiseClick; pipeline.ts (0 without a kept item or label)'),
  num('block_y', 'Float32', 'click position as a fraction of the height of its block (the tile, else the labelled element), 0.01 steps; 0 outside a kept one', 'click.ts sanitiseClick; pipeline.ts (0 without a kept item or label)'),
  num('click_rage', 'UInt8', '1: a rage click (the third of three clicks within 1 s within 30 px), judged in the browser', 'click.ts sanitiseClick'),
  num('click_dead', 'UInt8', '1: a dead click (no DOM, text or focus change and no navigation within 1 s after a click on a non-control), judged in the browser', 'click.ts sanitiseClick'),
  // Issue 14, schemas/050.
  num('quick_back', 'UInt8', '1: on an engagement event, the page view was left by going back to an earlier page of the site within 5 s of visible time, judged in the browser', 'pipeline.ts', 'awaiting: the per-page frustration aggregate (docs/pending-aggregate-changes.md §2); v_quick_backs derives quick backs from page views until then'),
] as const;

export type EventColumn = (typeof EVENT_TABLE)[number];
export type EventColumnName = EventColumn['name'];

/** A row of the ClickHouse `events` table: one property per column of EVENT_TABLE, of its `empty` value's type. */
export type EventRow = { [C in EventColumn as C['name']]: C['empty'] };

/** The column names, in schema order: the column list of the INSERT and the order of encodeRows. */
export const EVENT_COLUMNS: readonly EventColumnName[] = EVENT_TABLE.map((c) => c.name);

// The names are the table's constants; checked to be plain identifiers before they go into generated code.
for (const n of EVENT_COLUMNS) if (!/^[a-z_][a-z0-9_]*$/.test(n)) throw new Error(`events column name ${JSON.stringify(n)} is not a plain identifier`);

/**
 * A row with every column at its empty value, in schema order, each call a new
 * object (a Map column's `{}` too). The pipeline fills it in.
 *
 * Generated once from the table as the object literal one would write by
 * hand, `{ site: "", …, custom_props: {} }`: as fast as that literal, and
 * every row gets the same object shape, which keeps rowToCompact's loads
 * monomorphic. (Copying a template row and giving it its own objects
 * measured three times as slow.)
 */
export const emptyRow: () => EventRow = new Function(
  `return { ${EVENT_TABLE.map((c) => `${c.name}: ${JSON.stringify(c.empty)}`).join(', ')} };`,
) as () => EventRow;

/**
 * A row as one JSONCompactEachRow array: its values in EVENT_COLUMNS order.
 *
 * Hot path (every stored event), so the function is generated once from the
 * table as the array literal one would write by hand, `[r.site, r.ts, …]`: a
 * loop over the names (`r[name]`) makes one property load see 36 names, which
 * V8 handles megamorphically: 1.5–1.9 times as slow for the whole encode (measured).
 */
export const rowToCompact: (r: EventRow) => unknown[] = new Function('r', `return [${EVENT_COLUMNS.map((n) => `r.${n}`).join(', ')}];`) as (
  r: EventRow,
) => unknown[];

/** Rows as JSONCompactEachRow text: one JSON array a line, columns in EVENT_COLUMNS order. */
export function encodeRows(rows: readonly EventRow[]): string {
  let out = '';
  for (const r of rows) out += JSON.stringify(rowToCompact(r)) + '\n';
  return out;
}
