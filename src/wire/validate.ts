/**
 * Wire format v1 validation (docs/design.md §4). Hand-written rather than a schema
 * library because it runs for every event on the hot path; it is strict:
 * unknown keys are refused, every string and number has a bound (from
 * src/wire/limits.ts, which the tracker and the anonymiser use too), and the
 * result is a fresh object holding only what was checked (so nothing like
 * `__proto__` or an unexpected field can ride along into the sealed job).
 */
import { pageHostAllowed } from './hosts.js';
import {
  CUSTOM_NAME_PATTERN,
  FORBIDDEN_KEYS,
  ID_PATTERN,
  MAX_EVENTS,
  MAX_ID,
  MAX_ITEM_ID,
  MAX_ITEM_LIST,
  MAX_ITEM_POS,
  MAX_LABEL,
  MAX_PAGE_COORD,
  MAX_PROP_NUMBER,
  MAX_PROP_VALUE,
  MAX_PROPS,
  MAX_SELECTOR,
  MAX_TS,
  MAX_URL,
  MAX_VARIANTS,
  MAX_VIEWPORT,
  MAX_VISIBLE_MS,
  PROP_KEY_PATTERN,
  SITE_PATTERN,
  VARIANT_NAME_PATTERN,
} from './limits.js';
import type { ClickData, CustomData, CustomPropValue, EngagementData, EventType, ItemData, Variants, Viewport, WireEvent } from './types.js';

const HTTP_URL = /^https?:\/\//i;

/**
 * What an event was rejected for, as a bounded metric label: the top-level
 * field at fault, an unknown key, or a page host that is not the site's.
 * Never a value from the request.
 */
export type RejectionField =
  | 'event' | 'type' | 'id' | 'pageview_id' | 'ts' | 'url' | 'referrer' | 'viewport' | 'click' | 'engagement' | 'custom' | 'item' | 'variants' | 'unknown_key' | 'host';

/** Where in an event a check failed: a field, or a dotted path below one ("click.x", "custom.props.k"). */
type Where = Exclude<RejectionField, 'unknown_key' | 'host'> | `${Exclude<RejectionField, 'unknown_key' | 'host'>}.${string}`;

export class BatchError extends Error {
  override readonly name = 'BatchError';
  constructor(
    readonly status: 400 | 403,
    message: string,
  ) {
    super(message);
  }
}

export interface Rejection {
  index: number;
  /** For the client: the field at fault and what is wrong (bounded; quotes at most 40 characters of a key). */
  reason: string;
  /** For metrics. */
  field: RejectionField;
}

export interface ValidatedBatch {
  site: string;
  events: WireEvent[];
  rejected: Rejection[];
}

class Invalid extends Error {
  constructor(
    message: string,
    readonly field: RejectionField,
  ) {
    super(message);
  }
}

const fieldOf = (where: Where) => where.split('.', 1)[0] as RejectionField;

const fail = (where: Where, problem: string, field: RejectionField = fieldOf(where)): never => {
  throw new Invalid(`${where}: ${problem}`, field);
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>, where: Where | EventType): void {
  for (const k in o) {
    if (!allowed.has(k)) throw new Invalid(`${where}: unknown key ${JSON.stringify(k.slice(0, 40))}`, 'unknown_key');
  }
}

// ES2024 String.prototype.isWellFormed (Node ≥ 20); the lib target here is ES2022.
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function str(v: unknown, where: Where, max: number, min = 0): string {
  if (typeof v !== 'string') fail(where, 'must be a string');
  const s = v as string;
  if (s.length > max) fail(where, `longer than ${max} characters`);
  if (s.length < min) fail(where, 'required');
  // A lone surrogate (`"\ud800"` is valid JSON) is not text: it would not survive UTF-8 encoding downstream.
  if (!wellFormed(s)) fail(where, 'not valid Unicode');
  return s;
}

function num(v: unknown, where: Where, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, 'must be a finite number');
  const n = v as number;
  if (n < min || n > max) fail(where, `must be between ${min} and ${max}`);
  if (integer && !Number.isInteger(n)) fail(where, 'must be an integer');
  return n;
}

function bool(v: unknown, where: Where): boolean {
  if (typeof v !== 'boolean') fail(where, 'must be true or false');
  return v as boolean;
}

function httpUrl(v: unknown, where: Where): string {
  const s = str(v, where, MAX_URL, 1);
  if (!HTTP_URL.test(s)) fail(where, 'must be an http(s) URL');
  return s;
}

const VIEWPORT_KEYS = new Set(['w', 'h']);
function viewport(v: unknown): Viewport {
  if (!isPlainObject(v)) return fail('viewport', 'must be an object');
  onlyKeys(v, VIEWPORT_KEYS, 'viewport');
  return { w: num(v.w, 'viewport.w', 0, MAX_VIEWPORT, true), h: num(v.h, 'viewport.h', 0, MAX_VIEWPORT, true) };
}

const CLICK_KEYS = new Set(['selector', 'label', 'x', 'y', 'page_x', 'page_y', 'doc_w', 'block_x', 'block_y', 'rage', 'dead']);
function click(v: unknown): ClickData {
  if (!isPlainObject(v)) return fail('click', 'must be an object');
  onlyKeys(v, CLICK_KEYS, 'click');
  const out: ClickData = {
    selector: str(v.selector, 'click.selector', MAX_SELECTOR, 1),
    x: num(v.x, 'click.x', 0, 1),
    y: num(v.y, 'click.y', 0, 1),
    page_x: num(v.page_x, 'click.page_x', 0, MAX_PAGE_COORD),
    page_y: num(v.page_y, 'click.page_y', 0, MAX_PAGE_COORD),
  };
  if (v.label !== undefined) out.label = str(v.label, 'click.label', MAX_LABEL);
  // Optional since issue 14 (older trackers send none of these): where the document's centre is, the position in
  // the tile the click is in, and the frustration the browser saw.
  if (v.doc_w !== undefined) out.doc_w = num(v.doc_w, 'click.doc_w', 0, MAX_VIEWPORT, true);
  if (v.block_x !== undefined || v.block_y !== undefined) {
    out.block_x = num(v.block_x, 'click.block_x', 0, 1);
    out.block_y = num(v.block_y, 'click.block_y', 0, 1);
  }
  if (v.rage !== undefined) out.rage = bool(v.rage, 'click.rage');
  if (v.dead !== undefined) out.dead = bool(v.dead, 'click.dead');
  return out;
}

const ENGAGEMENT_KEYS = new Set(['visible_ms', 'scroll_depth', 'quick_back']);
function engagement(v: unknown): EngagementData {
  if (!isPlainObject(v)) return fail('engagement', 'must be an object');
  onlyKeys(v, ENGAGEMENT_KEYS, 'engagement');
  const out: EngagementData = {
    visible_ms: num(v.visible_ms, 'engagement.visible_ms', 0, MAX_VISIBLE_MS),
    scroll_depth: num(v.scroll_depth, 'engagement.scroll_depth', 0, 100),
  };
  // Optional (a compatible extension of v1, issue 14): left by going back within 5 s, judged in the browser.
  if (v.quick_back !== undefined) out.quick_back = bool(v.quick_back, 'engagement.quick_back');
  return out;
}

const CUSTOM_KEYS = new Set(['name', 'props']);
function custom(v: unknown): CustomData {
  if (!isPlainObject(v)) return fail('custom', 'must be an object');
  onlyKeys(v, CUSTOM_KEYS, 'custom');
  const name = str(v.name, 'custom.name', MAX_LABEL, 1);
  if (!CUSTOM_NAME_PATTERN.test(name)) fail('custom.name', 'must match [A-Za-z][A-Za-z0-9_.:-]*');
  const out: CustomData = { name };
  if (v.props !== undefined) {
    if (!isPlainObject(v.props)) fail('custom.props', 'must be an object');
    const props = v.props as Record<string, unknown>;
    const clean: Record<string, CustomPropValue> = {};
    let n = 0;
    for (const k in props) {
      if (++n > MAX_PROPS) fail('custom.props', `at most ${MAX_PROPS} properties`);
      if (FORBIDDEN_KEYS.has(k) || !PROP_KEY_PATTERN.test(k)) fail('custom.props', `key ${JSON.stringify(k.slice(0, 40))} is not allowed`);
      const val = props[k];
      if (typeof val === 'string') clean[k] = str(val, `custom.props.${k}`, MAX_PROP_VALUE);
      else if (typeof val === 'number') clean[k] = num(val, `custom.props.${k}`, -MAX_PROP_NUMBER, MAX_PROP_NUMBER);
      else if (typeof val === 'boolean') clean[k] = val;
      else fail(`custom.props.${k}`, 'must be a string, number or boolean');
    }
    out.props = clean;
  }
  return out;
}

const ITEM_KEYS = new Set(['id', 'list', 'pos']);
function item(v: unknown): ItemData {
  if (!isPlainObject(v)) return fail('item', 'must be an object');
  onlyKeys(v, ITEM_KEYS, 'item');
  const out: ItemData = { id: str(v.id, 'item.id', MAX_ITEM_ID, 1) };
  if (v.list !== undefined) out.list = str(v.list, 'item.list', MAX_ITEM_LIST);
  if (v.pos !== undefined) out.pos = num(v.pos, 'item.pos', 1, MAX_ITEM_POS, true);
  return out;
}

function variants(v: unknown): Variants {
  if (!isPlainObject(v)) return fail('variants', 'must be an object');
  const out: Variants = {};
  let n = 0;
  for (const k in v) {
    if (++n > MAX_VARIANTS) fail('variants', `at most ${MAX_VARIANTS} experiments`);
    if (FORBIDDEN_KEYS.has(k) || !VARIANT_NAME_PATTERN.test(k)) fail('variants', `experiment ${JSON.stringify(k.slice(0, 40))} is not allowed`);
    const arm = v[k];
    if (typeof arm !== 'string' || !VARIANT_NAME_PATTERN.test(arm)) fail('variants', `the arm of ${JSON.stringify(k)} must be 1–32 of [A-Za-z0-9_.-]`);
    out[k] = arm as string;
  }
  return out;
}

// `variants` on every type and `item` on impressions and clicks: the compatible extension of v1 for layout work (docs/design.md §4.2).
const COMMON = ['type', 'id', 'pageview_id', 'ts', 'url', 'variants'];
const EVENT_KEYS: Record<EventType, ReadonlySet<string>> = {
  pageview: new Set([...COMMON, 'referrer', 'viewport']),
  click: new Set([...COMMON, 'click', 'viewport', 'item']),
  engagement: new Set([...COMMON, 'engagement']),
  custom: new Set([...COMMON, 'custom']),
  impression: new Set([...COMMON, 'item']),
};

function event(v: unknown): WireEvent {
  if (!isPlainObject(v)) return fail('event', 'must be an object');
  const type = v.type;
  if (type !== 'pageview' && type !== 'click' && type !== 'engagement' && type !== 'custom' && type !== 'impression') {
    return fail('type', 'must be one of pageview, click, engagement, custom, impression');
  }
  onlyKeys(v, EVENT_KEYS[type], type);
  const id = str(v.id, 'id', MAX_ID, 1);
  if (!ID_PATTERN.test(id)) fail('id', 'must be 8–64 of [A-Za-z0-9_-]');
  const pageviewId = str(v.pageview_id, 'pageview_id', MAX_ID, 1);
  if (!ID_PATTERN.test(pageviewId)) fail('pageview_id', 'must be 8–64 of [A-Za-z0-9_-]');
  const out: WireEvent = { type, id, pageview_id: pageviewId, url: httpUrl(v.url, 'url') };
  if (v.ts !== undefined) out.ts = num(v.ts, 'ts', 0, MAX_TS, true);
  if (v.viewport !== undefined) out.viewport = viewport(v.viewport);
  if (v.variants !== undefined) out.variants = variants(v.variants);
  if (v.item !== undefined) out.item = item(v.item);
  switch (type) {
    case 'pageview':
      if (v.referrer !== undefined && v.referrer !== '') out.referrer = str(v.referrer, 'referrer', MAX_URL);
      break;
    case 'click':
      if (v.click === undefined) fail('click', 'required for a click event');
      out.click = click(v.click);
      break;
    case 'engagement':
      if (v.engagement === undefined) fail('engagement', 'required for an engagement event');
      out.engagement = engagement(v.engagement);
      break;
    case 'custom':
      if (v.custom === undefined) fail('custom', 'required for a custom event');
      out.custom = custom(v.custom);
      break;
    case 'impression':
      if (v.item === undefined) fail('item', 'required for an impression event');
      break;
  }
  return out;
}

const BATCH_KEYS = new Set(['site', 'events']);

/**
 * Validates a parsed body. Batch-level problems throw a BatchError (400/403);
 * event-level problems are reported per index and the valid events are kept.
 */
export function validateBatch(body: unknown, sites: Readonly<Record<string, readonly string[]>>): ValidatedBatch {
  if (!isPlainObject(body)) throw new BatchError(400, 'body must be a JSON object with "site" and "events"');
  for (const k in body) if (!BATCH_KEYS.has(k)) throw new BatchError(400, `unknown key ${JSON.stringify(k.slice(0, 40))} in batch`);
  const site = body.site;
  if (typeof site !== 'string' || site === '') throw new BatchError(400, '"site" is required');
  if (!SITE_PATTERN.test(site)) throw new BatchError(400, '"site" must be 1–64 of [a-z0-9._-]');
  const hosts = Object.hasOwn(sites, site) ? sites[site] : undefined;
  if (!hosts) throw new BatchError(403, `unknown site ${JSON.stringify(site)}`);
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0) throw new BatchError(400, '"events" must be a non-empty array');
  if (events.length > MAX_EVENTS) throw new BatchError(400, `"events" holds at most ${MAX_EVENTS} events, got ${events.length}`);

  const ok: WireEvent[] = [];
  const rejected: Rejection[] = [];
  let hostRejections = 0;
  for (let i = 0; i < events.length; i++) {
    try {
      const e = event(events[i]);
      const allowed = pageHostAllowed(e.url, hosts);
      if (allowed === undefined) fail('url', 'not a valid URL');
      if (!allowed) {
        hostRejections++;
        fail('url', 'host is not configured for this site', 'host');
      }
      ok.push(e);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      rejected.push({ index: i, reason: err.message, field: err.field });
    }
  }
  if (ok.length === 0 && hostRejections === events.length) {
    throw new BatchError(403, `page host is not configured for site ${JSON.stringify(site)}`);
  }
  return { site, events: ok, rejected };
}
