/**
 * The dashboard in headless Chromium: clicks seeded in a known region are
 * drawn as the hottest heatmap cells there; a screenshot is saved under
 * test-artifacts/.
 */
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventInserter } from '../src/store/inserter.js';
import { launchChromium } from './support/browser.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { formatTs, perVisitor } from './support/rows.js';

const PAGE = '/products/usb-c-65w';
let p: TestPipeline;
let browser: Browser;

beforeAll(async () => {
  p = await startTestPipeline({ SITES: '{"shop":["shop.example"]}' });
  const now = formatTs(Date.now());
  // 9 visitors click around (x 600–640 px, y 240–260 px) on a 1440 px viewport: cells x 20–22, y 8–9.
  const hot = perVisitor(9, 100, (_v, i) => ({ site: 'shop', path: PAGE, ts: now, type: 'click', page_x: 600 + (i % 3) * 20, page_y: 240 + (i % 2) * 15, click_selector: 'main>button.add', click_label: 'add-to-cart' }));
  const hotter = perVisitor(9, 100, () => ({ site: 'shop', path: PAGE, ts: now, type: 'click', page_x: 610, page_y: 250, click_selector: 'main>button.add', click_label: 'add-to-cart' }));
  const views = perVisitor(9, 100, () => ({ site: 'shop', path: PAGE, ts: now }));
  const engaged = perVisitor(9, 100, (_v, i) => ({ site: 'shop', path: PAGE, ts: now, type: 'engagement', visible_ms: 15_000 + i * 500, scroll_depth: 60 }));
  await new EventInserter(p.app.store.client, { batchRows: 10_000, flushMs: 10 }).add([...views, ...engaged, ...hot, ...hotter], 'seed');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

describe('dashboard', () => {
  it('asks for the analyst token and rejects a wrong one', async () => {
    const page = await browser.newPage();
    await page.goto(`${p.url}/dashboard/?site=shop`);
    await page.fill('#token', 'definitely-not-the-token');
    await page.click('#login-form button');
    await expect.poll(() => page.textContent('#login-error')).toMatch(/not accepted/);
    await page.close();
  });

  it('draws the hottest heatmap cells where the clicks were', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${p.url}/dashboard/?site=shop&page=${encodeURIComponent(PAGE)}`);
    await page.fill('#token', p.app.tokens.analyst!);
    await page.click('#login-form button');
    await page.waitForSelector('body[data-ready=page]', { timeout: 30_000 });
    expect(await page.textContent('#pages')).toContain(PAGE);
    const cells = await page.$$eval('#heatmap rect.cell', (rs) =>
      rs.map((r) => ({ x: Number(r.getAttribute('data-x')), y: Number(r.getAttribute('data-y')), clicks: Number(r.getAttribute('data-clicks')) })),
    );
    expect(cells.length).toBeGreaterThan(0);
    const hottest = cells.reduce((a, b) => (b.clicks > a.clicks ? b : a));
    // 610 px / 1440 px * 50 = cell 21; 250 px / 1440 px * 50 = cell 8.
    expect(hottest).toMatchObject({ x: 21, y: 8 });
    for (const c of cells) {
      expect(c.x).toBeGreaterThanOrEqual(20);
      expect(c.x).toBeLessThanOrEqual(22);
      expect(c.y).toBeGreaterThanOrEqual(8);
      expect(c.y).toBeLessThanOrEqual(9);
    }
    expect(await page.textContent('#targets')).toContain('add-to-cart');
    fs.mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
