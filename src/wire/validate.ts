/**
 * Wire format v1 validation (DESIGN §4). Hand-written rather than a schema
 * library because it runs for every event on the hot path; it is strict:
 * unknown keys are refused, every string and number has a bound, and the
 * result is a fresh object holding only what was checked (so nothing like
 * `__proto__` or an unexpected field can ride along into the sealed job).
 */
import type { ClickData, CustomData, CustomPropValue, EngagementData, EventType, Viewport, WireEvent } from './types.js';

export const MAX_EVENTS = 50;
export const LIMITS = {
  id: 64,
  url: 2048,
  selector: 512,
  label: 64,
  customName: 64,
  props: 20,
  propKey: 64,
  propValue: 256,
  viewport: 100_000,
  pageCoord: 1_000_000,
  visibleMs: 86_400_000,
} as const;

const SITE = /^[a-z0-9._-]{1,64}$/;
const ID = /^[A-Za-z0-9_-]{8,64}$/;
const HTTP_URL = /^https?:\/\//i;
const CUSTOM_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const PROP_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

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
  reason: string;
}

export interface ValidatedBatch {
  site: string;
  events: WireEvent[];
  rejected: Rejection[];
}

class Invalid extends Error {}

const fail = (reason: string): never => {
  throw new Invalid(reason);
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  for (const k in o) {
    if (!allowed.has(k)) fail(`${where}: unknown key ${JSON.stringify(k.slice(0, 40))}`);
  }
}

// ES2024 String.prototype.isWellFormed (Node ≥ 20); the lib target here is ES2022.
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function str(v: unknown, where: string, max: number, min = 0): string {
  if (typeof v !== 'string') fail(`${where}: must be a string`);
  const s = v as string;
  if (s.length > max) fail(`${where}: longer than ${max} characters`);
  if (s.length < min) fail(`${where}: required`);
  // A lone surrogate (`"\ud800"` is valid JSON) is not text: it would not survive UTF-8 encoding downstream.
  if (!wellFormed(s)) fail(`${where}: not valid Unicode`);
  return s;
}

function num(v: unknown, where: string, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}: must be a finite number`);
  const n = v as number;
  if (n < min || n > max) fail(`${where}: must be between ${min} and ${max}`);
  if (integer && !Number.isInteger(n)) fail(`${where}: must be an integer`);
  return n;
}

function httpUrl(v: unknown, where: string): string {
  const s = str(v, where, LIMITS.url, 1);
  if (!HTTP_URL.test(s)) fail(`${where}: must be an http(s) URL`);
  return s;
}

const VIEWPORT_KEYS = new Set(['w', 'h']);
function viewport(v: unknown): Viewport {
  if (!isPlainObject(v)) return fail('viewport: must be an object');
  onlyKeys(v, VIEWPORT_KEYS, 'viewport');
  return { w: num(v.w, 'viewport.w', 0, LIMITS.viewport, true), h: num(v.h, 'viewport.h', 0, LIMITS.viewport, true) };
}

const CLICK_KEYS = new Set(['selector', 'label', 'x', 'y', 'page_x', 'page_y']);
function click(v: unknown): ClickData {
  if (!isPlainObject(v)) return fail('click: must be an object');
  onlyKeys(v, CLICK_KEYS, 'click');
  const out: ClickData = {
    selector: str(v.selector, 'click.selector', LIMITS.selector, 1),
    x: num(v.x, 'click.x', 0, 1),
    y: num(v.y, 'click.y', 0, 1),
    page_x: num(v.page_x, 'click.page_x', 0, LIMITS.pageCoord),
    page_y: num(v.page_y, 'click.page_y', 0, LIMITS.pageCoord),
  };
  if (v.label !== undefined) out.label = str(v.label, 'click.label', LIMITS.label);
  return out;
}

const ENGAGEMENT_KEYS = new Set(['visible_ms', 'scroll_depth']);
function engagement(v: unknown): EngagementData {
  if (!isPlainObject(v)) return fail('engagement: must be an object');
  onlyKeys(v, ENGAGEMENT_KEYS, 'engagement');
  return {
    visible_ms: num(v.visible_ms, 'engagement.visible_ms', 0, LIMITS.visibleMs),
    scroll_depth: num(v.scroll_depth, 'engagement.scroll_depth', 0, 100),
  };
}

const CUSTOM_KEYS = new Set(['name', 'props']);
function custom(v: unknown): CustomData {
  if (!isPlainObject(v)) return fail('custom: must be an object');
  onlyKeys(v, CUSTOM_KEYS, 'custom');
  const name = str(v.name, 'custom.name', LIMITS.customName, 1);
  if (!CUSTOM_NAME.test(name)) fail('custom.name: must match [A-Za-z][A-Za-z0-9_.:-]*');
  const out: CustomData = { name };
  if (v.props !== undefined) {
    if (!isPlainObject(v.props)) fail('custom.props: must be an object');
    const props = v.props as Record<string, unknown>;
    const clean: Record<string, CustomPropValue> = {};
    let n = 0;
    for (const k in props) {
      if (++n > LIMITS.props) fail(`custom.props: at most ${LIMITS.props} properties`);
      if (FORBIDDEN_KEYS.has(k) || !PROP_KEY.test(k)) fail(`custom.props: key ${JSON.stringify(k.slice(0, 40))} is not allowed`);
      const val = props[k];
      if (typeof val === 'string') clean[k] = str(val, `custom.props.${k}`, LIMITS.propValue);
      else if (typeof val === 'number') clean[k] = num(val, `custom.props.${k}`, -1e15, 1e15);
      else if (typeof val === 'boolean') clean[k] = val;
      else fail(`custom.props.${k}: must be a string, number or boolean`);
    }
    out.props = clean;
  }
  return out;
}

const COMMON = ['type', 'id', 'pageview_id', 'ts', 'url'];
const EVENT_KEYS: Record<EventType, ReadonlySet<string>> = {
  pageview: new Set([...COMMON, 'referrer', 'viewport']),
  click: new Set([...COMMON, 'click', 'viewport']),
  engagement: new Set([...COMMON, 'engagement']),
  custom: new Set([...COMMON, 'custom']),
};

function event(v: unknown): WireEvent {
  if (!isPlainObject(v)) return fail('event: must be an object');
  const type = v.type;
  if (type !== 'pageview' && type !== 'click' && type !== 'engagement' && type !== 'custom') {
    return fail('type: must be one of pageview, click, engagement, custom');
  }
  onlyKeys(v, EVENT_KEYS[type], type);
  const id = str(v.id, 'id', LIMITS.id, 1);
  if (!ID.test(id)) fail('id: must be 8–64 of [A-Za-z0-9_-]');
  const pageviewId = str(v.pageview_id, 'pageview_id', LIMITS.id, 1);
  if (!ID.test(pageviewId)) fail('pageview_id: must be 8–64 of [A-Za-z0-9_-]');
  const out: WireEvent = { type, id, pageview_id: pageviewId, url: httpUrl(v.url, 'url') };
  if (v.ts !== undefined) out.ts = num(v.ts, 'ts', 0, 1e13, true);
  if (v.viewport !== undefined) out.viewport = viewport(v.viewport);
  switch (type) {
    case 'pageview':
      if (v.referrer !== undefined && v.referrer !== '') out.referrer = str(v.referrer, 'referrer', LIMITS.url);
      break;
    case 'click':
      if (v.click === undefined) fail('click: required for a click event');
      out.click = click(v.click);
      break;
    case 'engagement':
      if (v.engagement === undefined) fail('engagement: required for an engagement event');
      out.engagement = engagement(v.engagement);
      break;
    case 'custom':
      if (v.custom === undefined) fail('custom: required for a custom event');
      out.custom = custom(v.custom);
      break;
  }
  return out;
}

const REASON_FIELDS = new Set(['event', 'type', 'id', 'pageview_id', 'ts', 'url', 'referrer', 'viewport', 'click', 'engagement', 'custom']);

/** A bounded metric label for a rejection reason: the field at fault, never a value from the request. */
export function rejectionLabel(reason: string): string {
  if (reason.includes(': unknown key')) return 'unknown_key';
  if (reason.startsWith('url: host')) return 'host';
  const field = reason.slice(0, Math.max(0, reason.indexOf(':'))).split('.')[0] ?? '';
  return REASON_FIELDS.has(field) ? field : 'other';
}

/** Whether a page URL's host is one of the site's hosts (a configured entry may carry a port). */
export function pageHostAllowed(url: string, hosts: readonly string[]): boolean | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  return hosts.includes(u.hostname) || (u.port !== '' && hosts.includes(u.host));
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
  if (!SITE.test(site)) throw new BatchError(400, '"site" must be 1–64 of [a-z0-9._-]');
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
      if (allowed === undefined) fail('url: not a valid URL');
      if (!allowed) {
        hostRejections++;
        fail('url: host is not configured for this site');
      }
      ok.push(e);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      rejected.push({ index: i, reason: err.message });
    }
  }
  if (ok.length === 0 && hostRejections === events.length) {
    throw new BatchError(403, `page host is not configured for site ${JSON.stringify(site)}`);
  }
  return { site, events: ok, rejected };
}
