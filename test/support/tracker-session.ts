/**
 * A browser context for tracker tests that records, at the browser, every
 * request sent to /collect (body, time, the collector's answer) and every
 * console error or uncaught page error, so tests can assert both what was
 * sent and what must never be sent.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import type { WireBatch, WireEvent } from '../../src/wire/types.js';
import { BROWSER_UA } from './builders.js';

export interface SentBatch {
  at: number;
  /** Where it went (the tracker's endpoint) and how: 'fetch' or, for navigator.sendBeacon, 'ping'. */
  url: string;
  kind: string;
  body: string;
  batch: WireBatch;
  status?: number;
  answer?: { accepted?: number; rejected?: unknown[]; dropped?: string };
  failed?: string;
}

export interface TrackerSession {
  context: BrowserContext;
  page: Page;
  sent: SentBatch[];
  errors: string[];
  events(): WireEvent[];
  /** Lets queued events go out and be answered, then closes the tab (pagehide → final engagement) and the context. */
  finish(): Promise<void>;
}

/** Lower-case letters only: survives URL and selector scrubbing unchanged (no digit runs, no token look). */
export const runId = (n = 10): string => Array.from(randomBytes(n), (b) => String.fromCharCode(97 + (b % 26))).join('');

export async function openTrackerSession(browser: Browser, opts: { initScript?: string } = {}): Promise<TrackerSession> {
  // Headless Chromium's own UA says "HeadlessChrome": the worker would (rightly) drop it as a bot.
  const context = await browser.newContext({ userAgent: BROWSER_UA, viewport: { width: 1280, height: 720 } });
  if (opts.initScript) await context.addInitScript(opts.initScript);
  const sent: SentBatch[] = [];
  const errors: string[] = [];
  const pending = new Set<Promise<void>>();
  const byRequest = new Map<Request, SentBatch>();

  context.on('request', (r) => {
    if (r.method() !== 'POST' || new URL(r.url()).pathname !== '/collect') return;
    const body = r.postData() ?? '';
    const s: SentBatch = { at: Date.now(), url: r.url(), kind: r.resourceType(), body, batch: JSON.parse(body) as WireBatch };
    sent.push(s);
    byRequest.set(r, s);
  });
  context.on('requestfinished', (r) => {
    const s = byRequest.get(r);
    if (!s) return;
    const done = (async () => {
      const res = await r.response();
      s.status = res?.status();
      try {
        s.answer = (await res?.json()) as SentBatch['answer'];
      } catch {}
    })();
    pending.add(done);
    void done.finally(() => pending.delete(done));
  });
  context.on('requestfailed', (r) => {
    const s = byRequest.get(r);
    if (s) s.failed = r.failure()?.errorText ?? 'failed';
  });
  context.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  context.on('weberror', (e) => errors.push(`uncaught: ${e.error().message}`));

  const page = await context.newPage();
  return {
    context,
    page,
    sent,
    errors,
    events: () => sent.flatMap((s) => s.batch.events),
    async finish() {
      // Past the tracker's batching delay: everything queued is sent while the page lives, and answered.
      await page.waitForTimeout(1300);
      const until = Date.now() + 10_000;
      while (Date.now() < until && sent.some((s) => s.status === undefined && !s.failed)) await new Promise((r) => setTimeout(r, 50));
      await Promise.all([...pending]);
      // Close the tab like a visitor: pagehide sends the final engagement. Headless Chromium
      // under CDP drops keepalive requests sent while a page is navigated away from, but
      // delivers those sent while a tab closes; Playwright does not report the latter, so
      // tests find them in ClickHouse.
      if (!page.isClosed()) {
        const closed = page.waitForEvent('close');
        await page.close({ runBeforeUnload: true });
        await closed;
      }
      await new Promise((r) => setTimeout(r, 500));
      await context.close();
    },
  };
}

/** Waits until the tracker on the current page is running. */
export async function trackerReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { anonAnalytics?: { v?: number } }).anonAnalytics?.v === 1);
}

/**
 * Hides or shows the page as the Page Visibility API reports it. Headless
 * Chromium keeps every page "visible" (switching tabs or minimising does not
 * change it), so the document's state is overridden and the event dispatched,
 * exactly what the tracker observes when a visitor switches tabs. Returns the
 * page's clock at the change.
 */
export async function setPageHidden(page: Page, hidden: boolean): Promise<number> {
  return page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    const at = Date.now();
    document.dispatchEvent(new Event('visibilitychange'));
    return at;
  }, hidden);
}
