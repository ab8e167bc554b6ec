/**
 * A browser context for tracker tests that records, at the browser, every
 * request sent to /collect (body, time, the collector's answer) and every
 * console error or uncaught page error, so tests can assert both what was
 * sent and what must never be sent.
 *
 * The browser: launchTrackerBrowser(), Chromium started with an ordinary
 * browser's User-Agent (--user-agent). A context's `userAgent` option does
 * not reach the sendBeacon a page sends while it is navigated away from: that
 * beacon goes out with Chromium's own "HeadlessChrome" UA, and the worker
 * drops it as a bot (test/heatmaps.browser.test.ts shows both).
 */
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import type { WireBatch, WireEvent } from '../../src/wire/types.js';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './browser.js';
import { startTestPipeline, type TestPipeline } from './pipeline.js';
import { BROWSER_UA } from './builders.js';
import { startVisitorProxy } from './visitor-proxy.js';

/** Chromium for tracker tests: every request, navigation beacons included, with an ordinary browser's User-Agent. */
export function launchTrackerBrowser(): Promise<Browser> {
  return launchChromium({ userAgent: BROWSER_UA });
}

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

/**
 * `viewport`: the window size (default 1280 × 720). `forwardedFor`: an X-Forwarded-For address on every request
 * (through a proxy of the context's own, test/support/visitor-proxy.ts), so that a pipeline with
 * TRUST_PROXY=loopback sees one visitor, on one network, per address.
 */
export async function openTrackerSession(
  browser: Browser,
  opts: { initScript?: string; viewport?: { width: number; height: number }; forwardedFor?: string } = {},
): Promise<TrackerSession> {
  // The context's UA as well, for a browser launched without --user-agent (only what fetch sends gets it then).
  const visitor = opts.forwardedFor ? await startVisitorProxy(opts.forwardedFor) : undefined;
  const context = await browser.newContext({ userAgent: BROWSER_UA, viewport: opts.viewport ?? { width: 1280, height: 720 }, ...(visitor ? { proxy: visitor.proxy } : {}) });
  context.on('close', () => void visitor?.close());
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
      // Close the tab like a visitor: pagehide sends the final engagement. Playwright does not
      // report a beacon sent while a tab closes or a page is navigated away from, so tests
      // find those in ClickHouse (they arrive with the browser's own User-Agent: launch it
      // with launchTrackerBrowser, or the worker drops them as a bot's).
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

/**
 * Trusted clicks at page points, each with the event time it is given (`atMs` from the first click), dispatched
 * through the DevTools protocol at once: the page sees `event.timeStamp`s exactly `atMs` apart however loaded the
 * machine is (Chromium takes the event's time from the command), so tests of time-based rules (rage clicks) do not
 * depend on how fast the driver is. `clickCount` is the browser's multi-click count (`event.detail`), default 1.
 */
export async function timedClicks(page: Page, clicks: { x: number; y: number; atMs: number; clickCount?: number }[]): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const t0 = Date.now() / 1000;
  const sends: Promise<unknown>[] = [];
  for (const c of clicks) {
    const base = { x: c.x, y: c.y, button: 'left' as const, clickCount: c.clickCount ?? 1 };
    sends.push(cdp.send('Input.dispatchMouseEvent', { ...base, type: 'mousePressed', timestamp: t0 + c.atMs / 1000 }));
    sends.push(cdp.send('Input.dispatchMouseEvent', { ...base, type: 'mouseReleased', timestamp: t0 + (c.atMs + 10) / 1000 }));
  }
  await Promise.all(sends);
  await cdp.detach();
}

/**
 * A browser test file's pipeline and Chromium: both started before its tests (`use` gets them, for the file's
 * own variables) and closed after them. `launch`: the tracker browser by default (an ordinary User-Agent on
 * every request, beacons of navigations included).
 */
export function useBrowserPipeline(
  env: Record<string, string>,
  use: (started: { p: TestPipeline; browser: Browser }) => void,
  launch: () => Promise<Browser> = launchTrackerBrowser,
): void {
  let p: TestPipeline | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    p = await startTestPipeline(env);
    browser = await launch();
    use({ p, browser });
  });
  afterAll(async () => {
    await browser?.close();
    await p?.close();
  });
}
