/**
 * Batching transport. Events wait a short moment so that a burst of clicks
 * goes in one request; the queue is flushed at BATCH_AT events, after
 * DELAY_MS, and when the page is hidden or unloaded.
 *
 * While the page lives, batches go one at a time by fetch (a string body is
 * text/plain: a simple request, no CORS preflight; keepalive so that a page
 * closing meanwhile does not cancel it) and the answer is read: on 429/503
 * all sending holds until Retry-After (seconds or an HTTP date, at least 1 s,
 * at most MAX_PAUSE_MS), and the refused events are put back once, never
 * more: an event refused twice is dropped, while newer events sent in the
 * same batch get their own one retry. Holding, the queue stays bounded
 * (MAX_QUEUE events queued or in flight; further events are not taken).
 *
 * Only when the page is being hidden or unloaded (where the answer may never
 * be seen) is navigator.sendBeacon used, falling back to a keepalive fetch
 * when it is missing or refuses the body; while a Retry-After holds, nothing
 * is sent then either. A network error drops the batch: analytics must never
 * make the page work harder. Nothing here throws into the page.
 */
import { MAX_BODY_BYTES, MAX_EVENTS as WIRE_MAX_EVENTS } from '../../wire/limits.js';
import type { WireEvent } from '../../wire/types.js';

const BATCH_AT = 10;
const DELAY_MS = 1000;
/** Stay well under what the collector takes per request (events and bytes; a character may be 3 bytes). */
const MAX_EVENTS = WIRE_MAX_EVENTS / 2;
const MAX_CHARS = MAX_BODY_BYTES / 3;
const MAX_QUEUE = 200;
const MAX_PAUSE_MS = 300_000;

export interface Sender {
  push(e: WireEvent): void;
  /** Sends what is queued now; `hiding`: the page is being hidden or unloaded (sendBeacon). */
  flush(hiding?: boolean): void;
  clear(): void;
}

/** How long a 429/503 holds sending: Retry-After in seconds or as an HTTP date; 10 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number {
  const h = (header || '').trim();
  const ms = /^\d+$/.test(h) ? +h * 1000 : h ? Date.parse(h) - now : NaN;
  return Math.min(MAX_PAUSE_MS, Math.max(1000, isNaN(ms) ? 10_000 : ms));
}

export function createSender(endpoint: string, site: string, allowed: () => boolean): Sender {
  let queue: WireEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pausedUntil = 0;
  /** Events of the fetch in flight (one at a time while the page lives); they count towards MAX_QUEUE. */
  let inFlight = 0;
  /** flush() was asked while a fetch was in flight: it runs when the answer is in. */
  let owed = false;
  /** Events already put back once after a 429/503: never put back again. */
  const retried = new WeakSet<WireEvent>();

  const later = (ms: number) => {
    timer ??= setTimeout(() => {
      timer = undefined;
      flush();
    }, ms);
  };

  function take(): WireEvent[] {
    let n = 0;
    let chars = 0;
    while (n < queue.length && n < MAX_EVENTS && (chars += JSON.stringify(queue[n]).length) < MAX_CHARS) n++;
    return queue.splice(0, n || 1);
  }

  function post(batch: WireEvent[], hiding?: boolean): void {
    const body = JSON.stringify({ site, events: batch });
    if (hiding) {
      try {
        if (navigator.sendBeacon(endpoint, body)) return;
      } catch {}
    } else inFlight = batch.length;
    // A synchronous throw (no fetch, a refused keepalive) becomes a rejection, then a dropped batch.
    new Promise<Response>((ok) => ok(fetch(endpoint, { method: 'POST', body, keepalive: true, credentials: 'omit' })))
      .then((res) => {
        if (res.status !== 429 && res.status !== 503) return;
        pausedUntil = Date.now() + retryAfterMs(res.headers.get('Retry-After'), Date.now());
        const again = batch.filter((e) => !retried.has(e));
        again.forEach((e) => retried.add(e));
        if (allowed()) queue = again.concat(queue);
      })
      .catch(() => {})
      .then(() => {
        if (!hiding) inFlight = 0;
        if (owed || queue.length >= BATCH_AT || pausedUntil > Date.now()) flush();
        else if (queue.length) later(DELAY_MS);
      });
  }

  function flush(hiding?: boolean): void {
    if (!allowed()) return clear();
    const wait = pausedUntil - Date.now();
    if (!hiding && inFlight) {
      owed = true;
      return;
    }
    clearTimeout(timer);
    timer = undefined;
    owed = false;
    if (wait > 0) return later(wait);
    if (hiding) while (queue.length) post(take(), true);
    else if (queue.length) post(take());
  }

  function clear(): void {
    clearTimeout(timer);
    timer = undefined;
    queue = [];
  }

  return {
    push(e) {
      if (queue.length + inFlight >= MAX_QUEUE) return;
      queue.push(e);
      if (queue.length >= BATCH_AT) flush();
      else later(DELAY_MS);
    },
    flush,
    clear,
  };
}
