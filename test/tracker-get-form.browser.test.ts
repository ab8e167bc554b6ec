/**
 * The tracker sends only what may be kept (issue 12, item 4). On the demo
 * storefront, a visitor types canary values into the header's GET search
 * form and the cart page's GET "track an order" form, lands with a URL
 * fragment and an external referrer carrying a query, and navigates on. The
 * browser's own requests to /collect are recorded: no body may hold a
 * canary, a fragment, a non-allowlisted query parameter or an external
 * referrer's path; the kept parts (utm_*, the data-query `sku`) are there.
 * Then ClickHouse, Redis and the logs are scanned as well.
 *
 * The browser is launched with a real browser's User-Agent (--user-agent):
 * the beacons sent while a form submission navigates away do not get a
 * context's userAgent, and the worker rightly drops "HeadlessChrome".
 */
import type { Browser } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { BROWSER_UA } from './support/builders.js';
import { launchChromium } from './support/browser.js';
import type { TestPipeline } from './support/pipeline.js';
import { openTrackerSession, runId, trackerReady, useBrowserPipeline } from './support/tracker-session.js';

let p: TestPipeline;
let browser: Browser;

useBrowserPipeline({}, (started) => ({ p, browser } = started), () => launchChromium({ userAgent: BROWSER_UA }));

const CANARIES = {
  search: 'Zelda Quixote 12 Canary Lane',
  email: 'zelda.quixote@example.com',
  order: 'ORD-2025-884127',
  fragment: 'frag-pettibone',
  referrerPath: 'inbox-gwendolyn',
};
const FRAGMENTS = ['zelda', 'quixote', 'canary', 'example.com', '884127', 'pettibone', 'gwendolyn', 'inbox'];

describe('tracker on a storefront with GET forms', () => {
  it('sends no query string beyond utm_* and data-query, no fragment, referrers as origin or path', async () => {
    const run = runId();
    const s = await openTrackerSession(browser);
    const { page } = s;
    // Past the tracker's batching delay, so each page's events go by fetch while the page lives (Playwright sees
    // those; a beacon sent while a form submission navigates away it may not report, so ClickHouse is checked too).
    const settle = async () => {
      await trackerReady(page);
      await page.waitForTimeout(1300);
    };
    // Arrive from a webmail link: an external referrer with a path and query, a fragment on the landing URL.
    await page.goto(`${p.url}/demo/?utm_source=mail&utm_campaign=${run}&fbclid=abc123#${CANARIES.fragment}`, {
      referer: `https://mail.example.org/${CANARIES.referrerPath}?msg=${encodeURIComponent(CANARIES.email)}`,
    });
    await settle();
    // The header search: a GET form, the query typed ends up in the page URL.
    await page.fill('form.search input[name=q]', CANARIES.search);
    await Promise.all([page.waitForURL(/\?q=/), page.click('form.search button')]);
    await settle();
    // A product page (its sku is in data-query), then the cart page and its GET "track an order" form.
    await page.goto(`${p.url}/demo/product?sku=usb-c-hub&ref=${encodeURIComponent(CANARIES.email)}`);
    await settle();
    await page.goto(`${p.url}/demo/cart`);
    await settle();
    await page.fill('form.track-order input[name=email]', CANARIES.email);
    await page.fill('form.track-order input[name=order]', CANARIES.order);
    await Promise.all([page.waitForURL(/\?email=/), page.click('form.track-order button')]);
    await settle();
    // The canaries are in the browser's own URL: the test would see them if the tracker sent the URL as it is.
    expect(decodeURIComponent(page.url())).toContain(CANARIES.order);
    await s.finish();

    expect(s.sent.length, 'requests to /collect').toBeGreaterThan(2);
    for (const b of s.sent) {
      const body = b.body.toLowerCase();
      for (const f of FRAGMENTS) expect(body, `a request body holds ${f}`).not.toContain(f);
      expect(b.body).not.toContain('#');
      for (const e of b.batch.events) {
        const u = new URL(e.url);
        expect(u.hash).toBe('');
        for (const k of u.searchParams.keys()) expect(k.startsWith('utm_') || k === 'sku', `${k} in ${e.url}`).toBe(true);
        if (e.referrer) expect(e.referrer, 'a referrer is an origin or a path').toMatch(/^(https?:\/\/[^/?#]+\/|\/[^?#]*)$/);
      }
    }
    const views = s.events().filter((e) => e.type === 'pageview');
    const sent = views.map((e) => new URL(e.url).pathname + new URL(e.url).search);
    expect(sent).toEqual(expect.arrayContaining([`/demo/?utm_source=mail&utm_campaign=${run}`, '/demo/', '/demo/product?sku=usb-c-hub', '/demo/cart']));
    expect(views[0]!.referrer).toBe('https://mail.example.org/');
    expect(views.some((v) => v.referrer === '/demo/')).toBe(true);

    // What was stored: the kept parts, and no canary anywhere at rest.
    await p.waitForCount("SELECT count() n FROM events WHERE path = '/demo/cart' AND type = 'pageview'", 2);
    const rows = await p.rows<{ path: string; query: string; utm_campaign: string; referrer_host: string }>(
      "SELECT path, query, utm_campaign, referrer_host FROM events WHERE type = 'pageview' ORDER BY ts",
    );
    expect(rows[0]).toMatchObject({ path: '/demo/', utm_campaign: run, referrer_host: 'example.org' });
    expect(rows.map((r) => r.query)).toContain('sku=usb-c-hub');
    const tables = await p.rows<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView')");
    const rest = [...(await Promise.all(tables.map((t) => p.rows(`SELECT * FROM ${t.name}`)))).map((r) => JSON.stringify(r)), await p.redisDump(), p.logs.join('')].join('\n').toLowerCase();
    for (const f of FRAGMENTS) expect(rest, `stored or logged: ${f}`).not.toContain(f);
  });
});
