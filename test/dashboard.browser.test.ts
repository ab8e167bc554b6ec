/**
 * The dashboard in headless Chromium. Clicks are seeded in known regions: a
 * hot cell (9 visitors, 3 clicks each), a cooler one (6 visitors, one click
 * each) and a cell with the most clicks but only 3 visitors (under k = 5, so
 * the view must hide it). The test checks what is drawn: where the heatmap
 * rects are over the page (attributes in user units and the laid-out boxes)
 * and how intense they are, not the numbers copied from the query. The site
 * has no page origin, so the cells are drawn on a blank page of the bucket's
 * width (test/heatmaps.browser.test.ts draws them over the live page). A
 * screenshot is saved under test-artifacts/.
 */
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventInserter } from '../src/store/inserter.js';
import { launchChromium } from './support/browser.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { formatTs, perVisitor } from './support/rows.js';

const PAGE = '/products/usb-c-65w';
/**
 * Seeded rows have viewport_w 1440 (the 1440 px bucket, drawn 1440 px wide); the cells are 20 px squares counted from
 * the page's centre line (x 720), one SVG unit a CSS pixel.
 */
const VIEWPORT_W = 1440;
const CELL = 20;
const HOT = { page_x: 610, page_y: 250 }; // cell (-6, 12): x 600–620, y 240–260
const COOL = { page_x: 1225, page_y: 1020 }; // cell (25, 51): x 1220–1240, y 1020–1040
const HIDDEN = { page_x: 200, page_y: 500 }; // cell (-26, 25): most clicks, 3 visitors
const region = (c: { page_x: number; page_y: number }) => ({
  x: VIEWPORT_W / 2 + Math.floor((c.page_x - VIEWPORT_W / 2) / CELL) * CELL,
  y: Math.floor(c.page_y / CELL) * CELL,
  width: CELL,
  height: CELL,
});

let p: TestPipeline;
let browser: Browser;

beforeAll(async () => {
  p = await startTestPipeline({ SITES: '{"shop":["shop.example"]}' });
  const now = formatTs(Date.now());
  const click = (at: { page_x: number; page_y: number }) => () => ({ site: 'shop', path: PAGE, ts: now, type: 'click' as const, ...at, click_selector: 'main>button.add', click_label: 'add-to-cart' });
  const hot = [1, 2, 3].flatMap(() => perVisitor(9, 100, click(HOT)));
  const cool = perVisitor(6, 200, click(COOL));
  const hidden = Array.from({ length: 10 }, () => perVisitor(3, 300, click(HIDDEN))).flat();
  const views = perVisitor(9, 100, () => ({ site: 'shop', path: PAGE, ts: now }));
  const engaged = perVisitor(9, 100, (_v, i) => ({ site: 'shop', path: PAGE, ts: now, type: 'engagement', visible_ms: 15_000 + i * 500, scroll_depth: 60 }));
  await new EventInserter(p.app.store.client, { batchRows: 10_000, flushMs: 10 }).add([...views, ...engaged, ...hot, ...cool, ...hidden], 'seed');
  await p.aggregate();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

describe('dashboard', () => {
  it('asks for the analyst token and rejects a wrong one', async () => {
    const page = await browser.newPage();
    await page.goto(`${p.queryUrl}/dashboard/?site=shop`);
    await page.fill('#token', 'definitely-not-the-token');
    await page.click('#login-form button');
    await expect.poll(() => page.textContent('#login-error')).toMatch(/not accepted/);
    await page.close();
  });

  it('draws the heatmap cells where the clicks were, the hotter one more intense, and hides cells under k', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${p.queryUrl}/dashboard/?site=shop&page=${encodeURIComponent(PAGE)}`);
    await page.fill('#token', p.app.tokens.analyst!);
    await page.click('#login-form button');
    await page.waitForSelector('body[data-ready=page]', { timeout: 30_000 });
    expect(await page.textContent('#pages')).toContain(PAGE);
    // The aggregates follow the events in the background: the dashboard says up to when they count (today's events).
    expect(await page.textContent('#freshness')).toMatch(/^data up to \d\d:\d\d:\d\d UTC$/);

    // The page cannot be framed (no page origin for shop.example): the cells are drawn on a blank page 1440 px wide.
    await page.waitForSelector('body[data-heatmap=blank]', { timeout: 30_000 });
    expect(await page.textContent('#heat-note')).toMatch(/could not be framed/);
    expect(await page.getAttribute('#heat-overlay', 'width')).toBe(String(VIEWPORT_W));

    // What is drawn: each rect's geometry in SVG user units, its laid-out box relative to the
    // overlay's box (its viewBox is its size: one user unit is one CSS pixel), and its paint.
    const drawn = await page.$$eval('#heat-overlay rect.cell', (rs) => {
      const box = (rs[0] as SVGRectElement).ownerSVGElement!.getBoundingClientRect();
      return rs.map((r) => {
        const b = r.getBoundingClientRect();
        const style = getComputedStyle(r);
        const [red = 0, green = 0, blue = 0] = (style.fill.match(/\d+(\.\d+)?/g) ?? []).map(Number);
        return {
          attrs: { x: Number(r.getAttribute('x')), y: Number(r.getAttribute('y')), width: Number(r.getAttribute('width')), height: Number(r.getAttribute('height')) },
          laidOut: { x: b.left - box.left, y: b.top - box.top, width: b.width, height: b.height },
          red, green, blue,
          opacity: Number(style.fillOpacity),
        };
      });
    });
    // Exactly the two cells with at least k = 5 visitors; the 3-visitor cell (most clicks of all) is not drawn.
    expect(drawn).toHaveLength(2);
    const at = (want: ReturnType<typeof region>) => drawn.find((d) => d.attrs.x === want.x && d.attrs.y === want.y);
    expect(at(region(HIDDEN))).toBeUndefined();
    for (const d of drawn) {
      for (const k of ['x', 'y', 'width', 'height'] as const) expect(d.laidOut[k], `laid out ${k}`).toBeCloseTo(d.attrs[k], 0);
    }

    // The hottest drawn cell (most intense paint: opacity, and red over green) is the hot region, in place.
    const intensity = (d: (typeof drawn)[number]) => d.opacity * (d.red - d.green);
    const hottest = drawn.reduce((a, b) => (intensity(b) > intensity(a) ? b : a));
    expect(hottest.attrs).toEqual(region(HOT));
    expect(hottest.laidOut.x).toBeCloseTo(region(HOT).x, 0);
    expect(hottest.laidOut.y).toBeCloseTo(region(HOT).y, 0);
    const cool = at(region(COOL));
    expect(cool, 'the cooler cell is drawn in its region').toBeDefined();
    expect(cool!.attrs).toEqual(region(COOL));
    // Hotter means more opaque and redder (less green).
    expect(hottest.opacity).toBeGreaterThan(cool!.opacity);
    expect(hottest.green).toBeLessThan(cool!.green);
    // The page is tall enough to show the lower cell.
    expect(Number(await page.getAttribute('#heat-overlay', 'height'))).toBeGreaterThanOrEqual(region(COOL).y + CELL);
    // The legend: clicks per 100 page views (27 clicks over 9 page views: 300 for the hottest cell).
    expect(await page.textContent('#heat-legend')).toContain('clicks per 100 page views');
    expect(Number(await page.getAttribute('#heat-legend [data-legend-max]', 'data-legend-max'))).toBeCloseTo(300, 3);

    expect(await page.textContent('#targets .target-name')).toBe('add-to-cart');
    fs.mkdirSync('test-artifacts', { recursive: true });
    // Page stay: the 9 engaged page views stayed 15–19 s, one bar in the 10–30 s bucket; median and p75 above it.
    const visibleBars = await page.$$eval('#visible-chart rect', (rs) => rs.map((r) => ({ title: r.querySelector('title')?.textContent ?? '', height: Number(r.getAttribute('height')) })));
    expect(visibleBars).toHaveLength(1);
    expect(visibleBars[0]!.title).toBe('10-30 s: 9 views');
    expect(visibleBars[0]!.height).toBeGreaterThan(0);
    expect(await page.textContent('#visible-summary')).toMatch(/^median 1\d\.\d s, p75 1\d\.\d s$/);
    await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
