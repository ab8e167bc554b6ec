/**
 * The anonymiser, as a table of contents. Per request:
 *   1. parse the client address (strict) and truncate it      ip.ts
 *   2. hash the visitor id under the day's salt               ids.ts
 *   3. generalise the user agent, drop bots                   device.ts
 *   4. the receive time, to the second                          (below)
 * Per event:
 *   5. scrub the URL and referrer, check the page host        url.ts, routes.ts (templates)
 *   6. hash page-view and event ids                            ids.ts
 *   7. sanitise click / engagement / custom data               click.ts (vocabulary.ts), custom.ts
 *      items (impressions, clicks in a tile) and variants      items.ts
 *   8. shape the row                                           (below)
 * Pure: the salt and the parser cache are passed in, no clock, no I/O.
 */
import type { WireEvent } from '../wire/types.js';
import { sanitiseClick } from './click.js';
import { sanitiseCustom } from './custom.js';
import { sanitiseItem, sanitiseVariants } from './items.js';
import type { DeviceParser } from './device.js';
import { eventId, pageviewKey, visitorId, type PageviewKey } from './ids.js';
import { truncateParsed, UNKNOWN_IP, checkPrefixes } from './ip.js';
import { parseStrictIp } from '../wire/ip.js';
import { NO_SITE_RULES, type AnonymiseConfig, type DropReason, type EventRow, type SiteRules, type ValueDropReason } from './types.js';
import { emptyRow } from './row.js';
import type { CollectedRequest } from '../wire/types.js';
import { scrubReferrer, scrubUrl } from './url.js';
import { hostIsSites } from '../wire/hosts.js';
import { MAX_VISIBLE_MS } from '../wire/limits.js';
import { bucketHeight, bucketWidth } from './viewport.js';

export interface AnonymiseDeps {
  config: AnonymiseConfig;
  device: DeviceParser;
}

export interface AnonymisedRequest {
  rows: EventRow[];
  dropped: Partial<Record<DropReason, number>>;
  /** Values dropped inside stored events (free-text props, labels that are not tokens), by reason. */
  valuesDropped: Partial<Record<ValueDropReason, number>>;
  /** 1 when the client address was refused and stored as unknown. */
  unknownIp: number;
}

/**
 * 'YYYY-MM-DD hh:mm:ss.000' in UTC, as ClickHouse DateTime64(3) reads it: the receive time cut to the second.
 * Milliseconds would let a row be joined with an order time or an access log line; the layout questions
 * (days, sequences of page views) need no more than seconds.
 */
export function formatTimestamp(ms: number): string {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

function count<R extends string>(dropped: Partial<Record<R, number>>, reason: R, n = 1): void {
  dropped[reason] = (dropped[reason] ?? 0) + n;
}

export function anonymiseRequest(req: CollectedRequest, salt: Buffer, deps: AnonymiseDeps): AnonymisedRequest {
  const { ctx, events } = req;
  const { config } = deps;
  const dropped: AnonymisedRequest['dropped'] = {};
  const valuesDropped: AnonymisedRequest['valuesDropped'] = {};

  // 3. Bots first: nothing of theirs is hashed or kept.
  const device = deps.device.parse(ctx.userAgent);
  if (!device.ok) {
    count(dropped, device.reason, events.length);
    return { rows: [], dropped, valuesDropped, unknownIp: 0 };
  }

  // 1. Address: strictly parsed, truncated; a refused one is unknown (and counted).
  checkPrefixes(config);
  const addr = parseStrictIp(ctx.ip);
  const ipPrefix = addr ? truncateParsed(addr, config) : UNKNOWN_IP;

  // 2. The daily visitor id uses the full address and UA, which are then forgotten.
  const visitor = visitorId(salt, ctx.site, ctx.ip, ctx.userAgent);

  // 4. Request-level generalisations.
  const ts = formatTimestamp(ctx.receivedAt);
  const siteHosts = config.sites[ctx.site] ?? [];
  const rules = config.siteRules?.[ctx.site] ?? NO_SITE_RULES;
  const urlRules = rulesForUrls(config, rules);
  const pageviewKeys = new Map<string, PageviewKey>();
  // The events of one request mostly share their page's URL: scrub each distinct URL once (for this request only;
  // nothing raw outlives it).
  const scrubbed = new Map<string, ReturnType<typeof scrubUrl>>();
  const d = device.value;

  const rows: EventRow[] = [];
  for (const e of events) {
    // 5. URL: scrubbed; the page must be on one of the site's hosts.
    let url = scrubbed.get(e.url);
    if (url === undefined && !scrubbed.has(e.url)) {
      url = scrubUrl(e.url, urlRules);
      scrubbed.set(e.url, url);
    }
    if (!url) {
      count(dropped, 'invalid_url');
      continue;
    }
    if (!hostIsSites({ hostname: url.host, host: url.hostPort }, siteHosts)) {
      count(dropped, 'host_mismatch');
      continue;
    }
    const row = shapeRow(e, ctx.site, ts, url, siteHosts, rules, valuesDropped);
    if (!row) {
      count(dropped, e.type === 'impression' ? 'invalid_item' : 'invalid_custom');
      continue;
    }
    // 6. Ids: no client-chosen value reaches ClickHouse.
    let pv = pageviewKeys.get(e.pageview_id);
    if (pv === undefined) {
      pv = pageviewKey(salt, ctx.site, visitor, e.pageview_id);
      pageviewKeys.set(e.pageview_id, pv);
    }
    row.event_id = eventId(pv, e.id);
    row.pageview_id = pv.id;
    row.visitor_id = visitor;
    row.ip_prefix = ipPrefix;
    row.browser = d.browser;
    row.os = d.os;
    row.device_type = d.device_type;
    rows.push(row);
  }
  return { rows, dropped, valuesDropped, unknownIp: addr ? 0 : 1 };
}

/** The URL rules of a site: global allowlist and utm setting, plus the site's own query keys and route templates. Cached per site rules. */
const urlRulesCache = new WeakMap<SiteRules, WeakMap<AnonymiseConfig, Parameters<typeof scrubUrl>[1]>>();
function rulesForUrls(config: AnonymiseConfig, rules: SiteRules): Parameters<typeof scrubUrl>[1] {
  let byConfig = urlRulesCache.get(rules);
  if (!byConfig) urlRulesCache.set(rules, (byConfig = new WeakMap()));
  let r = byConfig.get(config);
  if (!r) {
    r = { allowlist: rules.query.length ? [...config.queryAllowlist, ...rules.query] : config.queryAllowlist, utm: config.utmParams, routes: rules.routes };
    byConfig.set(config, r);
  }
  return r;
}

/** 7–8. Type-specific data, sanitised, in a row whose other fields are filled by the caller. */
function shapeRow(
  e: WireEvent,
  site: string,
  ts: string,
  url: NonNullable<ReturnType<typeof scrubUrl>>,
  siteHosts: readonly string[],
  rules: SiteRules,
  valuesDropped: AnonymisedRequest['valuesDropped'],
): EventRow | null {
  const ref = e.type === 'pageview' ? scrubReferrer(e.referrer, siteHosts, rules.routes) : { host: '', path: '' };
  // Every column at its empty value (row.ts); the ones this event has are filled below and by the caller.
  const row = emptyRow();
  row.site = site;
  row.ts = ts;
  row.type = e.type;
  row.path = url.path;
  row.query = url.query;
  row.utm_source = url.utm.source;
  row.utm_medium = url.utm.medium;
  row.utm_campaign = url.utm.campaign;
  row.utm_term = url.utm.term;
  row.utm_content = url.utm.content;
  row.referrer_host = ref.host;
  row.viewport_w = bucketWidth(e.viewport?.w);
  row.viewport_h = bucketHeight(e.viewport?.h);
  if (e.type === 'click' && e.click) {
    const c = sanitiseClick(e.click, rules, { bucketWidth: row.viewport_w, viewportWidth: e.viewport?.w });
    if (e.click.label && !c.label) count(valuesDropped, 'label');
    row.click_selector = c.selector;
    row.click_label = c.label;
    row.click_x = c.x;
    row.click_y = c.y;
    row.page_x = c.page_x;
    row.page_y = c.page_y;
    row.block_x = c.block_x;
    row.block_y = c.block_y;
    row.click_rage = c.rage;
    row.click_dead = c.dead;
  } else if (e.type === 'engagement' && e.engagement) {
    row.visible_ms = Math.round(Math.min(Math.max(0, e.engagement.visible_ms), MAX_VISIBLE_MS)) || 0;
    row.scroll_depth = Math.round(Math.min(100, Math.max(0, e.engagement.scroll_depth))) || 0;
    row.quick_back = e.engagement.quick_back === true ? 1 : 0;
  } else if (e.type === 'custom' && e.custom) {
    const c = sanitiseCustom(e.custom, rules.props);
    if (!c) return null;
    for (const [reason, n] of Object.entries(c.dropped) as [ValueDropReason, number][]) count(valuesDropped, reason, n);
    row.custom_name = c.name;
    row.custom_props = c.props;
  }
  // An impression is of its item: without a slug id it says nothing. A click keeps its other data without one.
  if (e.item) {
    const item = sanitiseItem(e.item);
    if (!item && e.type === 'impression') return null;
    if (!item) count(valuesDropped, 'item');
    else {
      row.item_id = item.id;
      row.item_list = item.list;
      row.item_pos = item.pos;
    }
  } else if (e.type === 'impression') return null;
  // A position in a block says something only of a block that is kept: the tile (when the click was in one), else
  // the labelled element.
  if (e.item ? !row.item_id : !row.click_label) row.block_x = row.block_y = 0;
  if (e.variants) {
    const v = sanitiseVariants(e.variants);
    row.variants = v.variants;
    if (v.dropped) count(valuesDropped, 'variant', v.dropped);
  }
  return row;
}
