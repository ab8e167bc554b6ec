/**
 * Every limit of wire format v1 (docs/design.md §4), defined once. The tracker
 * caps what it sends to these (src/tracker/, bundled into /t.js), the
 * collector refuses what exceeds them (src/wire/validate.ts), and the
 * anonymiser clamps to them again (src/anonymise/) for anything that reached
 * the queue some other way. Plain constants, so the tracker's bundle keeps
 * only the few it uses. No imports: the tracker, the collector and the worker
 * all load this file.
 */

/** Largest request body, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Events in one request. */
export const MAX_EVENTS = 50;
/** `id` and `pageview_id`: random per event / per page load. */
export const ID_PATTERN = /^[\w-]{8,64}$/;
export const MAX_ID = 64;
/** `site`: a configured site key. */
export const SITE_PATTERN = /^[a-z0-9._-]{1,64}$/;
/** Page URL and referrer, in characters. */
export const MAX_URL = 2048;
/** Click selector as sent (the anonymiser keeps a shorter, sanitised path). */
export const MAX_SELECTOR = 512;
/** Click label (`data-track`) and custom event name. */
export const MAX_LABEL = 64;
export const CUSTOM_NAME_PATTERN = /^[A-Za-z][\w.:-]{0,63}$/;
/** Custom event properties: how many, key shape, longest string value. */
export const MAX_PROPS = 20;
export const PROP_KEY_PATTERN = /^[\w.-]{1,64}$/;
export const MAX_PROP_VALUE = 128;
/** Keys that could reach an object's prototype: never taken as property names. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** Largest numeric prop value, either sign. */
export const MAX_PROP_NUMBER = 1e15;
/** Viewport width/height, CSS pixels. */
export const MAX_VIEWPORT = 100_000;
/** Click position on the page, CSS pixels. */
export const MAX_PAGE_COORD = 100_000;
/** Steps of a click's selector path (the tracker sends at most this many; the worker keeps at most this many). */
export const MAX_SELECTOR_STEPS = 12;
/** Visible time of one page view: a day. */
export const MAX_VISIBLE_MS = 86_400_000;
/** Advisory client timestamp (ms since epoch): below the year 2286. */
export const MAX_TS = 1e13;
/** Product tiles (`item` of impressions and clicks): the item id and list name as sent (the anonymiser keeps slugs only), the position. */
export const MAX_ITEM_ID = 64;
export const MAX_ITEM_LIST = 64;
export const MAX_ITEM_POS = 10_000;
/** Layout experiments (`variants`): how many per event, and the shape of experiment and arm names (no ':' or ',', which separate them in data-variant). */
export const MAX_VARIANTS = 5;
export const VARIANT_NAME_PATTERN = /^[A-Za-z0-9][\w.-]{0,31}$/;

/**
 * What a collector puts around the events of one request (src/collect/app.ts)
 * and a worker checks again when it opens a job (src/wire/collected.ts).
 */
/** User-Agent as captured (a longer header is cut). */
export const MAX_USER_AGENT = 512;
/** Accept-Language is no longer collected (nothing reads it); jobs of older collectors may still carry it, this long. */
export const MAX_ACCEPT_LANGUAGE = 128;
/** Events in one queue job: the largest group commit (GROUP_COMMIT_MAX_EVENTS) plus one request. */
export const MAX_JOB_EVENTS = 100_000 + MAX_EVENTS;
/** How far a job's receive time may lie ahead of a worker's clock (clocks of collectors and workers differ a little). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
