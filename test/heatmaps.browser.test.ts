/**
 * Heatmaps an analyst can read (issue 14), end to end in headless Chromium:
 * the real tracker on the demo storefront and on a third-party-style grid,
 * the real pipeline (collector → sealed job → worker → embedded ClickHouse),
 * the analyst views, and the dashboard drawing the heatmap over the page.
 *
 * Visitors are browser contexts with an X-Forwarded-For address each (the
 * pipeline trusts the loopback proxy), so that groups reach k = 5 distinct
 * visitors on 5 distinct networks as real ones would.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import type { TestPipeline } from './support/pipeline.js';
import { openTrackerSession, runId, timedClicks, trackerReady, type TrackerSession, useBrowserPipeline } from './support/tracker-session.js';

let p: TestPipeline;
let browser: Browser;
let nextNetwork = 1;
/** A network of its own for each visitor: 10.14.n.7 (a /24 each). */
const newVisitor = () => `10.14.${nextNetwork++}.7`;
const today = () => new Date().toISOString().slice(0, 10);
const period = (page?: string) => `site='demo', date_from='${today()}', date_to='${today()}'${page ? `, page='${page}'` : ''}`;
/** The second product tile's add-to-cart button on the demo grid. */
const BUTTON = 'main#app>section.grid>article.product-card:nth-of-type(2)>button.add';
/**
 * The demo runs a layout experiment with an arm drawn at random per page load (examples/storefront/experiment.js):
 * these visitors, and the dashboard's framed page, all get arm "a", so that one button is in one place.
 */
const ARM_A = 'Math.random = () => 0.1;';

useBrowserPipeline({ TRUST_PROXY: 'loopback' }, (started) => ({ p, browser } = started));

async function visit(opts: { width?: number; height?: number; ip?: string; path?: string } = {}): Promise<TrackerSession> {
  const s = await openTrackerSession(browser, { viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, forwardedFor: opts.ip ?? newVisitor(), initScript: ARM_A });
  await s.page.goto(`${p.url}${opts.path ?? '/demo/'}`);
  await trackerReady(s.page);
  return s;
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  let v = await read();
  while (!done(v) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    v = await read();
  }
  expect(done(v), `${what}: ${JSON.stringify(v).slice(0, 500)}`).toBe(true);
  return v;
}

const clickRows = (path: string, campaign?: string) =>
  p.rows<{ click_selector: string; click_label: string; click_rage: number; click_dead: number; page_x: number; page_y: number; viewport_w: number; click_x: number; click_y: number }>(
    `SELECT click_selector, click_label, click_rage, click_dead, page_x, page_y, viewport_w, click_x, click_y FROM events
     WHERE type = 'click' AND path = {path:String} ${campaign ? 'AND utm_campaign = {c:String}' : ''}`,
    { path, c: campaign },
  );

describe('test support', () => {
  it('delivers the beacon a page sends while it is navigated away from, with the browser launched with --user-agent', async () => {
    const beaconed = async (b: Browser) => {
      const run = runId();
      const s = await openTrackerSession(b, { forwardedFor: newVisitor() });
      await s.page.goto(`${p.url}/demo/checkout?utm_campaign=${run}`);
      await trackerReady(s.page);
      await s.page.waitForTimeout(1500); // the page view goes by fetch, while the page lives
      // An ordinary link: a full page load. The checkout's engagement goes by sendBeacon at pagehide.
      await Promise.all([s.page.waitForURL(`${p.url}/demo/`), s.page.click('header nav a[data-route=""]')]);
      await s.page.waitForTimeout(500);
      await s.context.close();
      const count = (type: string) => `SELECT count() AS n FROM events WHERE path = '/demo/checkout' AND utm_campaign = '${run}' AND type = '${type}'`;
      expect(await p.waitForCount(count('pageview'), 1)).toBe(1);
      return p.waitForCount(count('engagement'), 1, 5000);
    };
    // Launched with --user-agent: the navigation beacon is stored.
    expect(await beaconed(browser)).toBe(1);
    // Launched without it (the UA only on the context): the same beacon says HeadlessChrome and is dropped as a bot.
    const plain = await launchChromium();
    try {
      expect(await beaconed(plain)).toBe(0);
    } finally {
      await plain.close();
    }
  });
});

describe('clicks', () => {
  it('stores a click on a label once, not again for the synthetic click on its control', async () => {
    const run = runId();
    const s = await visit({ path: `/demo/checkout?utm_campaign=${run}` });
    // The label's text, not its input: the browser then clicks the input for it (same event time).
    const label = s.page.locator('form.checkout label', { has: s.page.locator('#email') });
    await label.click({ position: { x: 8, y: 8 } });
    await s.page.click('#name'); // and a plain click on a control, for comparison
    await s.finish();
    const clicks = s.events().filter((e) => e.type === 'click');
    expect(clicks.map((c) => c.click!.selector)).toEqual(['main>form.checkout>label:nth-of-type(2)', 'main>form.checkout>label:nth-of-type(1)>input#name[name=name]']);
    const stored = await waitFor('two click rows', () => clickRows('/demo/checkout', run), (r) => r.length >= 2);
    expect(stored.map((r) => r.click_selector).sort()).toEqual(['main>form.checkout>label:nth-of-type(1)>input#name[name=name]', 'main>form.checkout>label:nth-of-type(2)']);
  });

  it('tells the eight tiles of a grid apart, and the icons of a tile, across loads with random ids and state classes', async () => {
    const grid = (load: number) => `<!doctype html><html><head><meta charset="utf-8"><title>grid</title>
<style>i{display:inline-block;width:24px;height:24px;background:#ccc} .featured__item{height:200px} li{display:inline-block;margin:4px}</style>
<script defer src="/t.js" data-site="demo"></script></head><body>
<section class="featured spad"><div class="container"><div class="row featured__filter" id="MixItUp${['EBD3A9', '3F0C1D', 'A1B2C3'][load]}">
${Array.from({ length: 8 }, (_, i) => `<div class="col-lg-3 col-md-4 col-sm-6 mix oranges"><div class="featured__item${i === load ? ' is-active' : ''}"><div class="featured__item__pic">
<ul class="featured__item__pic__hover"><li><a href="#"><i class="fa fa-heart"></i></a></li><li><a href="#"><i class="fa fa-retweet"></i></a></li><li><a href="#"><i class="fa fa-shopping-cart"></i></a></li></ul>
</div></div></div>`).join('\n')}
</div></div></section></body></html>`;
    const sent: string[][] = [];
    for (const load of [0, 1, 2]) {
      const s = await openTrackerSession(browser, { forwardedFor: newVisitor() });
      await s.page.route(`${p.url}/demo/fixtures/grid`, (r) => r.fulfill({ contentType: 'text/html', body: grid(load) }));
      await s.page.goto(`${p.url}/demo/fixtures/grid`);
      await trackerReady(s.page);
      const icons = s.page.locator('i.fa-shopping-cart');
      for (let i = 0; i < 8; i++) await icons.nth(i).click();
      await s.page.locator('i.fa-heart').first().click();
      await s.finish();
      sent.push(s.events().filter((e) => e.type === 'click').map((e) => e.click!.selector));
    }
    const stored = await waitFor('27 grid clicks', () => clickRows('/demo/fixtures/grid'), (r) => r.length >= 27);
    const selectors = stored.map((r) => r.click_selector);
    // Eight cart icons, one heart icon: nine selectors, the same on every load (random ids and state classes dropped);
    // the icon clicked, not only its link, is named.
    expect(new Set(selectors).size).toBe(9);
    for (const sel of selectors) expect(sel).toMatch(/^section\.featured>div\.container>div\.row\.featured__filter>div\.col-lg-3\.col-md-4\.col-sm-6:nth-of-type\([1-8]\)>div\.featured__item>div\.featured__item__pic>ul\.featured__item__pic__hover>li:nth-of-type\((1\)>a>i\.fa\.fa-heart|3\)>a>i\.fa\.fa-shopping-cart)$/);
    expect(selectors.filter((sel) => sel.endsWith('i.fa.fa-heart'))).toHaveLength(3);
    // The tracker sent the tile's position and the random id; the worker kept the one and dropped the other.
    expect(sent[0]![0]).toContain('div.col-lg-3.col-md-4.col-sm-6:nth-of-type(1)');
    expect(sent[0]![0]).toContain('#MixItUpEBD3A9');
  });
});

describe('the same button at 1280, 1440 and 1920 px', () => {
  const WIDTHS = [1280, 1440, 1920];
  beforeAll(async () => {
    // Five visitors at each width click the button at its centre.
    for (const width of WIDTHS) {
      for (let v = 0; v < 5; v++) {
        const s = await visit({ width, height: width === 1440 ? 900 : 800 });
        await s.page.click(BUTTON);
        await s.finish();
      }
    }
    await waitFor('15 button clicks', () => clickRows('/demo/'), (r) => r.filter((c) => c.click_selector === BUTTON).length >= 15);
  }, 240_000);

  it('lands in the same cell of its width bucket, and in the same element cell', async () => {
    const cells = await p.rows<{ viewport: string; width: number; cell_x: number; cell_y: number; clicks: number }>(
      `SELECT viewport, width, cell_x, cell_y, clicks FROM v_heatmap_cells(${period('/demo/')}) WHERE width != 0 ORDER BY width`,
    );
    expect(cells.map((c) => c.width)).toEqual(WIDTHS);
    expect(cells.every((c) => Number(c.clicks) === 5)).toBe(true);
    expect(new Set(cells.map((c) => `${c.cell_x}:${c.cell_y}`)).size).toBe(1);
    const element = await p.rows<{ frame: string; element: string; cell_x: number; cell_y: number; clicks: number }>(
      `SELECT frame, element, cell_x, cell_y, clicks FROM v_element_heatmap(${period('/demo/')}) WHERE element = '${BUTTON}'`,
    );
    expect(element.map((e) => [e.frame, e.cell_x, e.cell_y, Number(e.clicks)])).toEqual([['element', 2, 2, 15]]);
    // The tile is a product tile of the list home-grid (data-track-item): the same clicks, in the tile's box, for every tile of the list.
    const tiles = await p.rows<{ element: string; cell_x: number; cell_y: number; clicks: number }>(`SELECT element, cell_x, cell_y, clicks FROM v_element_heatmap(${period('/demo/')}) WHERE frame = 'tile'`);
    expect(tiles.map((b) => [b.element, Number(b.clicks)])).toContainEqual(['home-grid', 15]);
    expect(tiles.find((b) => Number(b.clicks) === 15)).toMatchObject({ cell_x: 2, cell_y: 4 });
  });

  it('is drawn by the dashboard over the framed page, the hot cell over the button, at each width', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    await page.addInitScript(ARM_A); // runs in the framed page too
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${p.queryUrl}/dashboard/?site=demo&page=${encodeURIComponent('/demo/')}`);
    await page.fill('#token', p.app.tokens.analyst!);
    await page.click('#login-form button');
    await page.waitForSelector('body[data-ready=page]', { timeout: 60_000 });
    const options = await page.$$eval('#heat-width option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(['desktop', '1920', '1440', '1280']);
    fs.mkdirSync('test-artifacts', { recursive: true });
    // In view: Chromium does not lay out a cross-origin frame that is off screen (the framed page is one: sandboxed).
    await page.locator('#heat-stage').scrollIntoViewIfNeeded();
    for (const width of ['1440', '1280', '1920', 'desktop']) {
      await page.selectOption('#heat-width', width);
      await page.waitForSelector('body[data-heatmap=framed]', { timeout: 30_000 });
      // The frame is as wide as the bucket, and the page inside it is laid out at that width.
      const frameEl = await page.$('#heat-frame');
      const framed = (await frameEl!.contentFrame())!;
      // "Every desktop width" is drawn at the desktop width with the most page views.
      const drawnAt = width === 'desktop' ? Number(await page.getAttribute('#heat-overlay', 'width')) : Number(width);
      expect([1280, 1440, 1920]).toContain(drawnAt);
      await expect.poll(() => framed.evaluate(() => document.documentElement.clientWidth), { message: `the framed page laid out at ${drawnAt} px` }).toBe(drawnAt);
      await expect.poll(() => page.$eval('#heat-overlay', (s) => Number(s.getAttribute('width')))).toBe(drawnAt);
      const hottest = await page.$$eval('#heat-overlay rect.cell', (rs) => {
        const best = rs.map((r) => ({ r, clicks: Number(r.getAttribute('data-clicks')) })).sort((a, b) => b.clicks - a.clicks)[0]!;
        const b = best.r.getBoundingClientRect();
        return { cx: b.left + b.width / 2, cy: b.top + b.height / 2, clicks: best.clicks, rate: Number(best.r.getAttribute('data-rate')) };
      });
      const button = await framed.$(BUTTON.replace(/>/g, ' > '));
      const box = (await button!.boundingBox())!;
      // Geometry, in the dashboard's own coordinates: the hot cell's centre lies inside the button's box.
      expect(hottest.cx, `width ${width}`).toBeGreaterThanOrEqual(box.x);
      expect(hottest.cx, `width ${width}`).toBeLessThanOrEqual(box.x + box.width);
      expect(hottest.cy, `width ${width}`).toBeGreaterThanOrEqual(box.y);
      expect(hottest.cy, `width ${width}`).toBeLessThanOrEqual(box.y + box.height);
      expect(hottest.clicks).toBe(width === 'desktop' ? 15 : 5);
      // Clicks per 100 page views: 5 clicks over that width's page views (each visitor viewed the grid once).
      expect(hottest.rate).toBeGreaterThan(0);
      // The fold line at the median viewport height of the page views at that width.
      const fold = Number(await page.getAttribute('#heat-overlay line.fold', 'data-fold'));
      if (width === 'desktop') expect(fold).toBeGreaterThan(700);
      else expect(fold).toBe(width === '1440' ? 900 : 800);
      await page.screenshot({ path: `test-artifacts/heatmap-over-page-${width}.png`, fullPage: true });
    }
    // The legend, the scroll-reach bar, and the clicked-elements table with a readable name.
    expect(await page.textContent('#heat-legend')).toContain('clicks per 100 page views');
    expect(await page.$$eval('#heat-reach stop', (s) => s.length)).toBe(11);
    const names = await page.$$eval('#targets tbody tr', (rs) => rs.map((r) => (r.querySelector('.target-name') as HTMLElement).textContent));
    expect(names).toContain('add-to-cart');
    // The framed page is not a visit: nothing from it reached the collector.
    expect(errors.filter((e) => !/Content Security Policy|connect-src|sendBeacon|Failed to load resource/.test(e))).toEqual([]);
    await page.close();
  });
});

describe('frustration', () => {
  it('rage and dead clicks, detected in the browser, appear in their views; quick backs too', async () => {
    for (let v = 0; v < 5; v++) {
      const s = await visit({ width: 1440 });
      // Three quick clicks on the heading (not a control, and nothing happens): a rage click, and three dead clicks.
      const h1 = (await s.page.locator('main h1').boundingBox())!;
      // A person's triple click, 60 ms apart (event times exactly so, however loaded the machine: timedClicks).
      const at = { x: h1.x + 40, y: h1.y + h1.height / 2 };
      await timedClicks(s.page, [1, 2, 3].map((clickCount, i) => ({ ...at, atMs: i * 60, clickCount })));
      // Held a second (nothing happens: dead), then batched: sent while the page lives.
      await s.page.waitForTimeout(2600);
      // A product, then back within 5 s: a quick back from the product page.
      await Promise.all([s.page.waitForURL('**/demo/product?sku=*'), s.page.locator('.product-card a.product-link').first().click()]);
      await trackerReady(s.page);
      // Stored times are cut to the second: a return in the same second as the page view would leave their order unknown.
      await s.page.waitForTimeout(1100);
      await s.page.goBack();
      await trackerReady(s.page);
      await s.finish();
      const sent = s.events().filter((e) => e.type === 'click' && e.click!.selector.endsWith('h1'));
      expect(sent.map((e) => [e.click!.rage ?? false, e.click!.dead ?? false])).toEqual([
        [false, true],
        [false, true],
        [true, true],
      ]);
    }
    const targets = await waitFor(
      'the heading in v_click_targets',
      () => p.rows<{ target: string; clicks: number; rage_clicks: number; dead_clicks: number }>(`SELECT target, clicks, rage_clicks, dead_clicks FROM v_click_targets(${period('/demo/')}) WHERE target LIKE '%h1'`),
      (r) => r.length === 1 && Number(r[0]!.clicks) >= 15,
    );
    expect(targets.map((t) => [t.target, Number(t.clicks), Number(t.rage_clicks), Number(t.dead_clicks)])).toEqual([['main#app>h1', 15, 5, 15]]);
    const pages = await p.rows<{ page: string; signal: string; clicks: number }>(`SELECT page, signal, clicks FROM v_frustration(${period()}) WHERE page = '/demo/' ORDER BY signal`);
    expect(pages.map((f) => [f.signal, Number(f.clicks)])).toEqual([
      ['dead', 15],
      ['rage', 5],
    ]);
    const backs = await waitFor(
      'quick backs from the product page',
      () => p.rows<{ page: string; quick_backs: number }>(`SELECT page, quick_backs FROM v_quick_backs(${period()})`),
      (r) => r.some((q) => q.page === '/demo/product' && Number(q.quick_backs) >= 5),
    );
    expect(backs.find((q) => q.page === '/demo/product')!.quick_backs).toBe(5);
  });

  it('shows them in the dashboard frustration list', async () => {
    const page: Page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${p.queryUrl}/dashboard/?site=demo&page=${encodeURIComponent('/demo/')}`);
    await page.fill('#token', p.app.tokens.analyst!);
    await page.click('#login-form button');
    await page.waitForSelector('body[data-ready=page]', { timeout: 60_000 });
    const items = await page.$$eval('#frustration li', (ls) => ls.map((l) => [l.getAttribute('data-signal'), l.textContent]));
    expect(items).toContainEqual(['dead', '15 dead clicks on main#app › h1 (this page)']);
    expect(items).toContainEqual(['rage', '5 rage clicks on main#app › h1 (this page)']);
    expect(items.some(([s, t]) => s === 'quick_back' && /^5 quick backs from \/demo\/product/.test(t!))).toBe(true);
    await page.close();
  });
});
