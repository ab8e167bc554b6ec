/**
 * Batching transport. Events wait a short moment so that a burst of clicks
 * goes in one request; the queue is flushed at BATCH_AT events, after
 * DELAY_MS, and when the page is hidden or unloaded (where only sendBeacon
 * and keepalive fetch survive).
 *
 * sendBeacon is the primary path (text/plain: no CORS preflight, survives
 * unload) but cannot see the answer. When it is missing or refuses the body,
 * a keepalive fetch is used; on 429/503 its Retry-After pauses all sending
 * and the batch is put back once, never more (no retry loops). A network
 * error drops the batch: analytics must never make the page work harder.
 */
import type { WireEvent } from '../collect/wire-types.js';

const BATCH_AT = 10;
const DELAY_MS = 1000;
/** The collector takes at most 50 events and 64 KiB per request; stay well under both. */
const MAX_EVENTS = 25;
const MAX_CHARS = 20_000;
const MAX_QUEUE = 200;
const MAX_PAUSE_S = 300;

export interface Sender {
  push(e: WireEvent): void;
  flush(): void;
  clear(): void;
}

export function createSender(endpoint: string, site: string, allowed: () => boolean): Sender {
  let queue: WireEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pausedUntil = 0;
  /** Events already put back once after a 429/503: never put back again. */
  const retried = new WeakSet<WireEvent>();

  const later = (ms: number) => {
    timer ??= setTimeout(() => {
      timer = undefined;
      flush();
    }, ms);
  };

  function post(events: WireEvent[], isRetry?: boolean): void {
    const body = JSON.stringify({ site, events });
    try {
      if (navigator.sendBeacon(endpoint, body)) return;
    } catch {}
    // A string body is sent as text/plain;charset=UTF-8: a simple request, no preflight.
    fetch(endpoint, { method: 'POST', body, keepalive: true, credentials: 'omit' })
      .then((res) => {
        if (res.status !== 429 && res.status !== 503) return;
        const seconds = Number(res.headers.get('Retry-After'));
        pausedUntil = Date.now() + 1000 * Math.min(MAX_PAUSE_S, seconds > 0 ? seconds : 10);
        if (!isRetry) {
          events.forEach((e) => retried.add(e));
          queue = events.concat(queue).slice(0, MAX_QUEUE);
        }
        later(pausedUntil - Date.now());
      })
      .catch(() => {});
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (!allowed()) return clear();
    const wait = pausedUntil - Date.now();
    if (wait > 0) return later(wait);
    while (queue.length) {
      let n = 0;
      let chars = 0;
      while (n < queue.length && n < MAX_EVENTS && (chars += JSON.stringify(queue[n]).length) < MAX_CHARS) n++;
      const batch = queue.splice(0, n || 1);
      post(batch, batch.some((e) => retried.has(e)));
    }
  }

  function clear(): void {
    clearTimeout(timer);
    timer = undefined;
    queue = [];
  }

  return {
    push(e) {
      if (queue.length >= MAX_QUEUE) return;
      queue.push(e);
      if (queue.length >= BATCH_AT) flush();
      else later(DELAY_MS);
    },
    flush,
    clear,
  };
}
