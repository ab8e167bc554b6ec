/**
 * The dashboard's "Which layout sells" panels in headless Chromium, on rows
 * seeded with known answers: what is drawn, not only that the page loads.
 * - tiles: the table ordered by click-through (50 %, 20 %, 10 %), the tile
 *   seen by 3 visitors absent; CTR by position as bars whose laid-out heights
 *   keep the rates' proportions, left to right by position;
 * - experiment: 200 vs 200 visitor-days, 20 vs 40 conversions: the verdict in
 *   words, and bars whose lengths keep the rates' proportion with interval
 *   whiskers around their ends; a 60 vs 60 experiment and an unknown one say
 *   "not enough data yet";
 * - funnel: bar widths in proportion to 12, 9, 7, 6 visitor-days, the last
 *   step (3) drawn as "fewer than k" with no number anywhere.
 * A screenshot is saved under test-artifacts/.
 */
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../src/anonymise/types.js';
import { EventInserter } from '../src/store/inserter.js';
import { launchChromium } from './support/browser.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { formatTs, perVisitor } from './support/rows.js';

let p: TestPipeline;
let browser: Browser;
let page: Page;

const T = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 12 * 3_600_000;
const at = (s = 0) => formatTs(T + s * 1000);

function seed(): EventRow[] {
  const rows: EventRow[] = [];
  const tile = (type: 'impression' | 'click', item: string, pos: number, list = 'home-grid', path = '/demo/') => () => ({ site: 'demo', type, path, item_id: item, item_list: list, item_pos: pos, ts: at(type === 'click' ? 2 : 0) });
  for (const [item, pos, clicks] of [['usb-c-65w', 1, 5], ['power-bank-20k', 2, 2], ['usb-c-hub', 3, 1]] as const) {
    rows.push(...perVisitor(10, 100, tile('impression', item, pos)), ...perVisitor(clicks, 100, tile('click', item, pos)));
  }
  rows.push(...perVisitor(3, 300, tile('impression', 'rare-tile', 4)), ...perVisitor(3, 300, tile('click', 'rare-tile', 4)));
  rows.push(...perVisitor(6, 400, tile('impression', 'headset', 1, 'related', '/demo/product')));

  // The layout experiment: exposed on a landing page (outside the funnel), converting with add_to_cart.
  const exposed = (experiment: string, arm: string) => () => ({ site: 'demo', path: '/demo/landing', variants: { [experiment]: arm }, ts: at() });
  const adds = () => ({ site: 'demo', type: 'custom' as const, path: '/demo/landing', custom_name: 'add_to_cart', ts: at(30) });
  rows.push(...perVisitor(200, 10_000, exposed('grid-layout', 'a')), ...perVisitor(200, 20_000, exposed('grid-layout', 'b')));
  rows.push(...perVisitor(20, 10_000, adds), ...perVisitor(40, 20_000, adds));
  rows.push(...perVisitor(60, 30_000, exposed('small', 'a')), ...perVisitor(60, 31_000, exposed('small', 'b')));

  // The checkout funnel of the demo (the panel's default steps): 12, 9, 7, 6 and 3 visitor-days.
  const steps: [number, Partial<EventRow>][] = [
    [12, { path: '/demo/' }],
    [9, { path: '/demo/product' }],
    [7, { path: '/demo/cart' }],
    [6, { path: '/demo/checkout' }],
    [3, { path: '/demo/checkout', type: 'custom', custom_name: 'checkout_submit' }],
  ];
  steps.forEach(([n, r], i) => rows.push(...perVisitor(n, 50_000, () => ({ site: 'demo', ...r, ts: at(10 * i) }))));
  return rows;
}

beforeAll(async () => {
  p = await startTestPipeline();
  await new EventInserter(p.app.store.client, { batchRows: 100_000, flushMs: 10 }).add(seed(), 'seed');
  await p.aggregate();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  await page.goto(`${p.queryUrl}/dashboard/?site=demo`);
  await page.fill('#token', p.app.tokens.analyst!);
  await page.click('#login-form button');
  await page.waitForSelector('body[data-layout-ready]', { timeout: 60_000 });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

/** The laid-out boxes of an SVG's marks (relative to the SVG), with their data attributes. */
function boxes(selector: string): Promise<{ x: number; y: number; width: number; height: number; data: Record<string, string>; cls: string }[]> {
  return page.$$eval(selector, (els) =>
    els.map((e) => {
      const b = e.getBoundingClientRect();
      const s = (e as SVGElement).ownerSVGElement!.getBoundingClientRect();
      return { x: b.left - s.left, y: b.top - s.top, width: b.width, height: b.height, data: { ...(e as SVGElement).dataset } as Record<string, string>, cls: e.getAttribute('class') ?? '' };
    }),
  );
}

async function resubmit(form: string): Promise<void> {
  await page.evaluate(() => document.body.removeAttribute('data-layout-ready'));
  await page.click(`${form} button`);
  await page.waitForSelector('body[data-layout-ready]', { timeout: 30_000 });
}

describe('dashboard: which layout sells', () => {
  it('lists the tiles by click-through and draws CTR by position to scale', async () => {
    const rows = await page.$$eval('#tiles tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toEqual([
      ['usb-c-65w', '1', '10', '5', '50.0 %', '10'],
      ['power-bank-20k', '2', '10', '2', '20.0 %', '10'],
      ['usb-c-hub', '3', '10', '1', '10.0 %', '10'],
    ]);
    expect(await page.$$eval('#tiles-list option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['home-grid', 'related']);

    const bars = await boxes('#ctr-chart rect.ctr-bar');
    expect(bars.map((b) => b.data.position)).toEqual(['1', '2', '3']);
    // Left to right, bottoms on one baseline, heights in the rates' proportions (50 : 20 : 10); position 4 (3 visitors) is not drawn.
    expect(bars[0]!.x).toBeLessThan(bars[1]!.x);
    expect(bars[1]!.x).toBeLessThan(bars[2]!.x);
    for (const b of bars) expect(b.y + b.height).toBeCloseTo(bars[0]!.y + bars[0]!.height, 0);
    expect(bars[0]!.height / bars[1]!.height).toBeCloseTo(2.5, 1);
    expect(bars[0]!.height / bars[2]!.height).toBeCloseTo(5, 1);
    expect(bars[0]!.height).toBeGreaterThan(100);
  });

  it('says which arm converts better, by how much, how sure, and draws the arms to scale with their intervals', async () => {
    expect(await page.textContent('#verdict')).toBe('Arm b converts 10.0 pp better than arm a, 95 % interval 3.1–16.9 pp, p = 0.005.');
    const bars = await boxes('#experiment-chart rect.arm-bar');
    expect(bars.map((b) => b.data.arm)).toEqual(['a', 'b']);
    expect(bars[0]!.x).toBeCloseTo(bars[1]!.x, 0);
    expect(bars[1]!.width / bars[0]!.width).toBeCloseTo(2, 1);
    // Each whisker spans its bar's end: the interval around the rate.
    const whiskers = await boxes('#experiment-chart line.interval[data-arm]');
    for (const [i, w] of whiskers.entries()) {
      const end = bars[i]!.x + bars[i]!.width;
      expect(w.x).toBeLessThan(end);
      expect(w.x + w.width).toBeGreaterThan(end);
    }
    expect(await page.$$eval('#arms tbody tr', (trs) => trs.map((tr) => tr.textContent))).toEqual(['a2002010.0 %', 'b2004020.0 %']);
    fs.mkdirSync('test-artifacts', { recursive: true });
    await page.locator('#layout').screenshot({ path: 'test-artifacts/dashboard-layout.png' });

    await page.fill('#experiment', 'small');
    await page.fill('#goal', '/demo/checkout');
    await resubmit('#experiment-form');
    expect(await page.textContent('#verdict')).toBe('Not enough data yet: fewer than 100 visitor-days in an arm (a: 60, b: 60).');
    await page.fill('#experiment', 'no-such-experiment');
    await resubmit('#experiment-form');
    expect(await page.textContent('#verdict')).toMatch(/^Not enough data yet: an arm has fewer than k/);
    expect(await page.$$('#experiment-chart rect')).toHaveLength(0);
  });

  it('draws the funnel to scale, and its small last step as hidden, with no number', async () => {
    const bars = await boxes('#funnel-chart rect.funnel-bar');
    expect(bars.map((b) => [b.data.step, b.data.visitors ?? null, b.cls])).toEqual([
      ['1', '12', 'funnel-bar'],
      ['2', '9', 'funnel-bar'],
      ['3', '7', 'funnel-bar'],
      ['4', '6', 'funnel-bar'],
      ['5', null, 'funnel-bar hidden-step'],
    ]);
    const [first] = bars;
    for (const [i, n] of [12, 9, 7, 6].entries()) expect(bars[i]!.width / first!.width).toBeCloseTo(n / 12, 2);
    // Top to bottom in step order, all starting at one edge.
    for (let i = 1; i < bars.length; i++) {
      expect(bars[i]!.y).toBeGreaterThan(bars[i - 1]!.y);
      expect(bars[i]!.x).toBeCloseTo(first!.x, 0);
    }
    const figures = await page.$$eval('#funnel-chart text.funnel-figure', (t) => t.map((x) => x.textContent));
    expect(figures).toEqual(['12 (100.0 %)', '9 (75.0 %), −3', '7 (58.3 %), −2', '6 (50.0 %), −1']);
    const text = await page.textContent('#funnel-chart');
    expect(text).toContain('5. checkout_submit');
    expect(text).toContain('fewer than k');
    // Nothing says how many the hidden step had, nor how many dropped before it.
    expect(text).not.toMatch(/\b3 \(|−3\b.*checkout_submit|50\.0 %\), −3/);

  });
});
