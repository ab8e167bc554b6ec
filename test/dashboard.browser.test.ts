/**
 * The dashboard in headless Chromium. Clicks are seeded in known regions: a
 * hot cell (9 visitors, 3 clicks each), a cooler one (6 visitors, one click
 * each) and a cell with the most clicks but only 3 visitors (under k = 5, so
 * the view must hide it). The test checks what is drawn: where the heatmap
 * rects are in the SVG (attributes in user units and the laid-out boxes) and
 * how intense they are, not the numbers copied from the query. A screenshot
 * is saved under test-artifacts/.
 */
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventInserter } from '../src/store/inserter.js';
import { launchChromium } from './support/browser.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { formatTs, perVisitor } from './support/rows.js';

const PAGE = '/products/usb-c-65w';
/** Seeded rows have viewport_w 1440 (desktop); the heatmap's cells are 2 % of it, 10 SVG units each. */
const VIEWPORT_W = 1440;
const CELL_UNITS = 10;
const HOT = { page_x: 610, page_y: 250 }; // cell (21, 8): user units x 210–220, y 80–90
const COOL = { page_x: 1225, page_y: 1020 }; // cell (42, 35): x 420–430, y 350–360
const HIDDEN = { page_x: 200, page_y: 500 }; // cell (6, 17): most clicks, 3 visitors
const region = (c: { page_x: number; page_y: number }) => ({
  x: Math.floor((c.page_x * 50) / VIEWPORT_W) * CELL_UNITS,
  y: Math.floor((c.page_y * 50) / VIEWPORT_W) * CELL_UNITS,
  width: CELL_UNITS,
  height: CELL_UNITS,
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

    // What is drawn: each rect's geometry in SVG user units, its laid-out box relative to the
    // heatmap's content box (no viewBox, so one user unit is one CSS pixel), and its paint.
    const drawn = await page.$$eval('#heatmap rect', (rs) => {
      const svgEl = (rs[0] as SVGRectElement).ownerSVGElement!;
      const box = svgEl.getBoundingClientRect();
      const cs = getComputedStyle(svgEl);
      const left = box.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft);
      const top = box.top + parseFloat(cs.borderTopWidth) + parseFloat(cs.paddingTop);
      return rs.map((r) => {
        const b = r.getBoundingClientRect();
        const style = getComputedStyle(r);
        const [red = 0, green = 0, blue = 0] = (style.fill.match(/\d+(\.\d+)?/g) ?? []).map(Number);
        return {
          attrs: { x: Number(r.getAttribute('x')), y: Number(r.getAttribute('y')), width: Number(r.getAttribute('width')), height: Number(r.getAttribute('height')) },
          laidOut: { x: b.left - left, y: b.top - top, width: b.width, height: b.height },
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

    // The hottest drawn cell (most intense paint: opacity × red) is the hot region, in place.
    const intensity = (d: (typeof drawn)[number]) => d.opacity * d.red;
    const hottest = drawn.reduce((a, b) => (intensity(b) > intensity(a) ? b : a));
    expect(hottest.attrs).toEqual(region(HOT));
    expect(hottest.laidOut.x).toBeCloseTo(region(HOT).x, 0);
    expect(hottest.laidOut.y).toBeCloseTo(region(HOT).y, 0);
    const cool = at(region(COOL));
    expect(cool, 'the cooler cell is drawn in its region').toBeDefined();
    expect(cool!.attrs).toEqual(region(COOL));
    // Hotter means redder and more opaque, cooler means bluer.
    expect(hottest.opacity).toBeGreaterThan(cool!.opacity);
    expect(hottest.red).toBeGreaterThan(cool!.red);
    expect(cool!.blue).toBeGreaterThan(hottest.blue);
    // The heatmap is tall enough to show the lower cell.
    expect(Number(await page.getAttribute('#heatmap', 'height'))).toBeGreaterThanOrEqual(region(COOL).y + CELL_UNITS);

    expect(await page.textContent('#targets')).toContain('add-to-cart');
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
