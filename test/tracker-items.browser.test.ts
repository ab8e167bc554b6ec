/**
 * Product tiles and layout arms in headless Chromium on the demo storefront,
 * against the real pipeline: an impression only for a tile really seen (half
 * of it in view for a second, while the page is visible), once per tile per
 * page view, none for a tile below the fold or one scrolled past; a click
 * inside a tile says which tile, in which list, at which position; the arm
 * the shop assigned (data-variant, anonAnalytics.variant) rides on every
 * event; nothing breaks where IntersectionObserver is missing. What reached
 * ClickHouse is checked too.
 *
 * The demo picks its arm with Math.random (examples/storefront/experiment.js):
 * each test fixes it with an init script. Chromium is launched with a
 * browser's User-Agent (the per-context one does not reach every request).
 */
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../src/wire/types.js';
import { launchChromium } from './support/browser.js';
import { BROWSER_UA } from './support/builders.js';
import type { TestPipeline } from './support/pipeline.js';
import { openTrackerSession, setPageHidden, trackerReady, type TrackerSession, useBrowserPipeline } from './support/tracker-session.js';

let p: TestPipeline;
let browser: Browser;

useBrowserPipeline({}, (started) => ({ p, browser } = started), () => launchChromium({ userAgent: BROWSER_UA }));

/** Math.random for the demo's own scripts: below 0.5 the experiment picks arm a, else b. */
const arm = (a: 'a' | 'b') => `Math.random = () => ${a === 'a' ? 0.25 : 0.75};`;

const impressions = (s: TrackerSession) => s.events().filter((e) => e.type === 'impression');
const seenIds = (s: TrackerSession) => impressions(s).map((e) => e.item!.id);

/** Each tile on the page: its id and how much of it is in the viewport now (0–1). */
function tilesInView(page: Page): Promise<{ id: string; visible: number }[]> {
  return page.$$eval('[data-track-item]', (els) =>
    els.map((e) => {
      const b = e.getBoundingClientRect();
      return { id: e.getAttribute('data-track-item')!, visible: Math.max(0, Math.min(b.bottom, innerHeight) - Math.max(b.top, 0)) / b.height };
    }),
  );
}

async function waitForSent(s: TrackerSession, until: (events: WireEvent[]) => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !until(s.events())) await s.page.waitForTimeout(100);
}

describe('product tiles and layout arms on the demo storefront', () => {
  it('sends an impression only for tiles really seen, once per page view, with list and position; a click carries its tile', async () => {
    const s = await openTrackerSession(browser, { initScript: arm('a') });
    const { page } = s;
    const from = Date.now();
    await page.goto(`${p.url}/demo/`);
    await trackerReady(page);
    await page.waitForTimeout(2500);
    const view = await tilesInView(page);
    const inView = view.filter((t) => t.visible >= 0.5).map((t) => t.id);
    const belowFold = view.filter((t) => t.visible === 0).map((t) => t.id);
    expect(inView.length).toBeGreaterThanOrEqual(3);
    expect(belowFold.length).toBeGreaterThanOrEqual(3);
    await waitForSent(s, (ev) => ev.filter((e) => e.type === 'impression').length >= inView.length);
    // Exactly the tiles half in view for a second; none of those below the fold.
    expect(seenIds(s).sort()).toEqual([...inView].sort());
    const grid = await page.$$eval('section.grid [data-track-item]', (els) => els.map((e) => e.getAttribute('data-track-item')!));
    for (const e of impressions(s)) expect(e.item).toEqual({ id: e.item!.id, list: 'home-grid', pos: grid.indexOf(e.item!.id) + 1 });

    // Scrolled past in a moment (under a second in view): still no impression.
    const rowBelow = belowFold[0]!;
    await page.locator(`[data-track-item="${rowBelow}"]`).scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(1500);
    expect(seenIds(s)).not.toContain(rowBelow);
    // Hidden tab: a tile in view is not seen until the page is visible again.
    const last = grid[grid.length - 1]!;
    await setPageHidden(page, true);
    await page.locator(`[data-track-item="${last}"]`).scrollIntoViewIfNeeded();
    await page.waitForTimeout(1500);
    expect(seenIds(s)).not.toContain(last);
    await setPageHidden(page, false);
    await waitForSent(s, (ev) => ev.some((e) => e.type === 'impression' && e.item!.id === last), 5000);
    expect(seenIds(s)).toContain(last);
    // Once per tile per page view: back to the top and down again adds nothing for tiles already seen.
    await page.evaluate(() => scrollTo(0, 0));
    await page.waitForTimeout(1500);
    await page.locator(`[data-track-item="${last}"]`).scrollIntoViewIfNeeded();
    await page.waitForTimeout(1500);
    const ids = seenIds(s);
    expect(new Set(ids).size).toBe(ids.length);

    // A click inside a tile (its add-to-cart button) says which tile, in which list, at which position.
    const second = grid[1]!;
    await page.evaluate(() => scrollTo(0, 0));
    await page.locator(`[data-track-item="${second}"] button.add`).click();
    await waitForSent(s, (ev) => ev.some((e) => e.type === 'click' && e.item?.id === second));
    const click = s.events().find((e) => e.type === 'click' && e.item?.id === second)!;
    expect(click.item).toEqual({ id: second, list: 'home-grid', pos: 2 });
    // Clicks outside any tile carry none.
    await page.click('header nav a[data-route=cart]');
    await page.waitForURL('**/demo/cart');
    await waitForSent(s, (ev) => ev.some((e) => e.type === 'click' && e.click?.label === 'nav-cart'));
    expect(s.events().find((e) => e.type === 'click' && e.click?.label === 'nav-cart')!.item).toBeUndefined();
    // The SPA route back to the grid is a new page view: its tiles in view are seen again, in that page view.
    await page.click('header nav a[data-route=""]');
    await page.waitForURL(/\/demo\/$/);
    const before = impressions(s).length;
    await waitForSent(s, (ev) => ev.filter((e) => e.type === 'impression').length >= before + inView.length);
    const again = impressions(s).slice(before);
    expect(again.map((e) => e.item!.id).sort()).toEqual([...inView].sort());
    expect(new Set(again.map((e) => e.pageview_id)).size).toBe(1);
    expect(again[0]!.pageview_id).not.toBe(impressions(s)[0]!.pageview_id);
    // The arm the demo assigned is on every event of every page view.
    for (const e of s.events()) expect(e.variants, e.type).toEqual({ 'grid-layout': 'a' });
    await s.finish();
    for (const b of s.sent) if (!b.failed) expect(b.status).toBe(202);
    expect(s.errors).toEqual([]);

    // In ClickHouse: the impressions and the click with their tile, the arm on every row.
    const since = `ts >= fromUnixTimestamp64Milli(toInt64(${Math.floor(from / 1000) * 1000}))`;
    const n = impressions(s).length;
    expect(await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'impression' AND ${since}`, n, 30_000)).toBe(n);
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'click' AND item_id = '${second}' AND ${since}`, 1, 30_000);
    const rows = await p.rows<{ type: string; item_id: string; item_list: string; item_pos: number; arm: string }>(
      `SELECT type, item_id, item_list, item_pos, variants['grid-layout'] AS arm FROM events WHERE ${since} AND (type = 'impression' OR item_id != '')`,
    );
    expect(rows.find((r) => r.type === 'click')).toMatchObject({ item_id: second, item_list: 'home-grid', item_pos: 2, arm: 'a' });
    expect(rows.filter((r) => r.type === 'impression').map((r) => r.item_id).sort()).toEqual(seenIds(s).sort());
    expect(rows.every((r) => r.arm === 'a')).toBe(true);
  });

  it('counts nothing for a tile whose second began on a page view that ended before it was up', async () => {
    const s = await openTrackerSession(browser, { initScript: arm('a') });
    const { page } = s;
    await page.goto(`${p.url}/demo/`);
    await trackerReady(page);
    // Within the tiles' first second in view: the page takes its grid down, then routes to another page (as an SPA
    // may, in that order), so the tiles are gone before the new page view begins.
    await page.waitForTimeout(300);
    await page.evaluate(() => {
      document.querySelector('section.grid')!.remove();
      history.pushState(null, '', '/demo/cart');
    });
    await page.waitForTimeout(2000);
    expect(s.events().filter((e) => e.type === 'pageview')).toHaveLength(2);
    expect(impressions(s)).toEqual([]);
    await s.finish();
    expect(s.errors).toEqual([]);
  });

  it('counts the tiles of another list on their own (positions within the list) and follows the arm the page picked', async () => {
    const s = await openTrackerSession(browser, { initScript: arm('b') });
    const { page } = s;
    await page.goto(`${p.url}/demo/product?sku=usb-c-hub`);
    await trackerReady(page);
    await page.locator('section.related').scrollIntoViewIfNeeded();
    await waitForSent(s, (ev) => ev.filter((e) => e.type === 'impression').length >= 3);
    expect(impressions(s).map((e) => e.item)).toEqual([
      { id: 'lanyard-pack', list: 'related', pos: 1 },
      { id: 'braided-cable', list: 'related', pos: 2 },
      { id: 'wireless-charger', list: 'related', pos: 3 },
    ]);
    for (const e of s.events()) expect(e.variants).toEqual({ 'grid-layout': 'b' });
    await s.finish();
    expect(s.errors).toEqual([]);
  });

  it('anonAnalytics.variant() adds an arm to every later event of the page; names the collector would refuse are ignored', async () => {
    const s = await openTrackerSession(browser, { initScript: arm('a') });
    const { page } = s;
    await page.goto(`${p.url}/demo/cart`);
    await trackerReady(page);
    await page.evaluate(() => {
      const a = (window as any).anonAnalytics;
      a.variant('hero', 'big');
      a.variant('Jane Doe', 'x'); // not a name
      a.variant('constructor', 'x'); // never a key
      a.variant('hero2', 'a:b'); // not an arm
      a.variant('x', { arm: 'b' }); // not an arm
      a.track('after_variant');
    });
    await waitForSent(s, (ev) => ev.some((e) => e.type === 'custom'));
    const custom = s.events().find((e) => e.type === 'custom')!;
    expect(custom.variants).toEqual({ 'grid-layout': 'a', hero: 'big' });
    // The page view went before the call: it has the shop's arm only.
    expect(s.events().find((e) => e.type === 'pageview')!.variants).toEqual({ 'grid-layout': 'a' });
    await s.finish();
    for (const b of s.sent) if (!b.failed) expect(b.answer?.rejected ?? []).toEqual([]);
    expect(s.errors).toEqual([]);
  });

  it('sends no impression and breaks nothing where IntersectionObserver is missing', async () => {
    const s = await openTrackerSession(browser, { initScript: `${arm('a')} delete window.IntersectionObserver;` });
    const { page } = s;
    await page.goto(`${p.url}/demo/`);
    await trackerReady(page);
    await page.waitForTimeout(1500);
    await page.locator('section.grid [data-track-item] button.add').first().click();
    await waitForSent(s, (ev) => ev.some((e) => e.type === 'click'));
    expect(impressions(s)).toEqual([]);
    expect(s.events().find((e) => e.type === 'click')!.item).toMatchObject({ list: 'home-grid', pos: 1 });
    await s.finish();
    expect(s.errors).toEqual([]);
  });
});
