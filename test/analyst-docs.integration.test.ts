/**
 * Runs every example query of docs/analysts.md against the embedded
 * ClickHouse on seeded data and checks its result — including that groups of
 * k-1 visitors never show — first from the insert-time tables, then again
 * after the daily rollup has taken the seeded day over (the same answers, from
 * the 25-month rollup tables).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/store/client.js';
import { EventInserter } from '../src/store/inserter.js';
import { migrate } from '../src/store/migrate.js';
import { rollupFinishedDays } from '../src/store/rollup.js';
import { aggregateNow } from '../src/store/aggregator.js';
import { checkQuery } from '../src/query/guard.js';
import { withQuerySettings } from '../src/query/settings.js';
import { clickHouseParser } from '../src/store/parser.js';
import type { EventRow } from '../src/anonymise/types.js';
import { formatTs, perVisitor } from './support/rows.js';
import { tempDir } from './support/tmp.js';

const PRODUCT = '/products/usb-c-65w';
const dir = tempDir('docs');
let store: Store;

function examples(): { view: string; sql: string }[] {
  const md = fs.readFileSync(new URL('../docs/analysts.md', import.meta.url), 'utf8');
  return [...md.matchAll(/```sql\n-- view: (v_\w+)\n([\s\S]*?)```/g)].map((m) => ({ view: m[1]!, sql: m[2]!.trim() }));
}

function seed(): EventRow[] {
  const t0 = Date.now() - 60_000;
  const mobile = { device_type: 'mobile', browser: 'Mobile Safari', os: 'iOS', viewport_w: 390, viewport_h: 800 };
  return [
    // 8 mobile visitors: product page from a Google campaign, engage, click "add to cart", then the cart.
    ...perVisitor(8, 1000, (_v, i) => ({ ...mobile, path: PRODUCT, ts: formatTs(t0), referrer_host: i < 6 ? 'www.google.com' : '', utm_campaign: i < 6 ? 'winter' : '', query: i < 5 ? 'variant=black' : 'variant=white' })),
    ...perVisitor(8, 1000, (_v, i) => ({ ...mobile, path: PRODUCT, ts: formatTs(t0 + 1000), type: 'engagement', visible_ms: 20_000 + i * 1000, scroll_depth: 40 + i * 5 })),
    // … in the middle of the button, at the bottom middle of its tile; 5 of them rage-clicked it, 6 found it dead.
    ...perVisitor(8, 1000, (_v, i) => ({
      ...mobile, path: PRODUCT, ts: formatTs(t0 + 2000), type: 'click', page_x: 100, page_y: 300, click_selector: 'main>button.add', click_label: 'add-to-cart',
      item_id: 'usb-c-65w', item_list: 'related', item_pos: 1, click_x: 0.5, click_y: 0.5, block_x: 0.5, block_y: 0.9, click_rage: i < 5 ? 1 : 0, click_dead: i < 6 ? 1 : 0,
    })),
    ...perVisitor(6, 1000, (_v, i) => ({ ...mobile, path: '/cart', ts: formatTs(t0 + 3000), type: 'custom', custom_name: 'checkout_start', custom_props: { items: i < 5 ? '2' : '3' } })),
    ...perVisitor(8, 1000, () => ({ ...mobile, path: '/cart', ts: formatTs(t0 + 4000) })),
    // 6 desktop visitors who see only the home page (bounces).
    ...perVisitor(6, 2000, () => ({ path: '/', ts: formatTs(t0) })),
    // Tiles seen (impressions add no page view and no visitor of a page): on the product page by the mobile visitors,
    // in arm b of the layout experiment; on the home page by the desktop visitors, in arm a.
    ...perVisitor(8, 1000, () => ({ ...mobile, path: PRODUCT, ts: formatTs(t0), type: 'impression', item_id: 'usb-c-65w', item_list: 'related', item_pos: 1, variants: { 'grid-layout': 'b' } })),
    ...perVisitor(8, 1000, () => ({ ...mobile, path: PRODUCT, ts: formatTs(t0), type: 'impression', item_id: 'power-bank-20k', item_list: 'related', item_pos: 2, variants: { 'grid-layout': 'b' } })),
    ...perVisitor(6, 2000, () => ({ path: '/', ts: formatTs(t0), type: 'impression', item_id: 'usb-c-hub', item_list: 'home-grid', item_pos: 1, variants: { 'grid-layout': 'a' } })),
    ...perVisitor(3, 3000, () => ({ path: '/about', ts: formatTs(t0), type: 'impression', item_id: 'rare-tile', item_list: 'home-grid', item_pos: 2 })),
    // Small groups (k-1 = 4 visitors or fewer) that must never show.
    ...perVisitor(3, 3000, () => ({ path: '/about', ts: formatTs(t0), referrer_host: 'tiny.example', device_type: 'tablet', browser: 'Rare', os: 'RareOS' })),
    ...perVisitor(3, 3000, () => ({ path: '/about/team', ts: formatTs(t0 + 1000), device_type: 'tablet', browser: 'Rare', os: 'RareOS' })),
    ...perVisitor(2, 1000, () => ({ ...mobile, path: PRODUCT, ts: formatTs(t0 + 5000), type: 'click', page_x: 350, page_y: 3000, click_selector: 'footer>a.rare' })),
    ...perVisitor(4, 1000, () => ({ ...mobile, path: '/cart', ts: formatTs(t0 + 6000), type: 'custom', custom_name: 'rare_event' })),
  ];
}

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  await new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 }).add(seed(), 'seed');
  // The aggregates follow `events` in the background (src/store/aggregator.ts): bring them up to date.
  await aggregateNow(store.client);
});
afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Row = Record<string, string | number>;
const n = (v: unknown) => Number(v);
/** A number, or null for a figure the view does not show. */
const nn = (v: unknown) => (v === null ? null : Number(v));

/** What each documented example must return on the seed. */
const checks: Record<string, (rows: Row[], sql: string) => void> = {
  // Built from the released (day, page) cells only: the 6 page views of /about and /about/team (3 visitors each) are not in it.
  v_summary: (r) => {
    expect(r).toHaveLength(1);
    expect(n(r[0]!.pageviews)).toBe(22);
    expect(n(r[0]!.visitors)).toBe(14);
    expect(r[0]!.bounce_rate).toBeCloseTo(6 / 14, 2);
  },
  v_daily: (r) => {
    expect(r.length).toBeGreaterThanOrEqual(1);
    expect(r.reduce((s, x) => s + n(x.pageviews), 0)).toBe(22);
  },
  v_pages: (r, sql) => {
    if (sql.includes(`page = '${PRODUCT}'`)) {
      expect(r).toHaveLength(1);
      expect(n(r[0]!.median_visible_ms)).toBeGreaterThanOrEqual(23_000);
      expect(n(r[0]!.median_visible_ms)).toBeLessThanOrEqual(24_500);
      expect(n(r[0]!.median_scroll_depth)).toBeGreaterThanOrEqual(55);
      return;
    }
    const pages = r.map((x) => x.page);
    expect(pages).toEqual(expect.arrayContaining([PRODUCT, '/cart', '/']));
    expect(pages).not.toContain('/about');
    expect(pages).not.toContain('other');
    expect(n(r.find((x) => x.page === PRODUCT)!.pageviews)).toBe(8);
  },
  v_scroll_depth: (r) => {
    // 8 page views spread over 40..75 %: each 10 % bucket has at most 2 visitors, so all are hidden.
    expect(r).toEqual([]);
  },
  v_visible_time: (r) => {
    // 8 page views that stayed 20–27 s: one bucket, 10–30 s.
    expect(r.map((x) => [n(x.from_s), n(x.views), n(x.visitors)])).toEqual([[10, 8, 8]]);
  },
  v_heatmap: (r) => {
    expect(r[0]).toMatchObject({ cell_x: 12, cell_y: 38 });
    expect(n(r[0]!.clicks)).toBe(8);
    expect(r).toHaveLength(1);
  },
  v_click_targets: (r) => {
    expect(r.map((x) => [x.target, x.label])).toEqual([['main>button.add', 'add-to-cart']]);
    if ('rage_clicks' in r[0]!) expect([n(r[0]!.rage_clicks), n(r[0]!.dead_clicks)]).toEqual([5, 6]);
  },
  // Mobile: one width bucket (390); page x 100 on a 390 px document is 95 px left of the centre line: cell -5.
  v_heatmap_cells: (r, sql) => {
    if (sql.includes("viewport = 'desktop'")) return expect(r).toEqual([]);
    expect(r.map((x) => [n(x.width), n(x.cell_x), n(x.cell_y), n(x.clicks)])).toEqual([[390, -5, 15, 8]]);
  },
  v_heatmap_widths: (r) => {
    expect(r.filter((x) => x.viewport === 'mobile').map((x) => [n(x.width), n(x.pageviews), n(x.median_viewport_h)])).toEqual([[390, 8, 800]]);
  },
  v_heatmap_targets: (r) => {
    expect(r.map((x) => [n(x.width), x.target, x.label, n(x.clicks), n(x.rage_clicks), n(x.dead_clicks)])).toEqual([[390, 'main>button.add', 'add-to-cart', 8, 5, 6]]);
  },
  v_element_heatmap: (r) => {
    expect(r.map((x) => [x.frame, x.element, n(x.cell_x), n(x.cell_y), n(x.clicks)])).toEqual([
      ['element', 'main>button.add', 2, 2, 8],
      ['tile', 'related', 2, 4, 8],
    ]);
  },
  v_frustration: (r) => {
    expect(r.map((x) => [x.page, x.signal, n(x.clicks)])).toEqual([
      [PRODUCT, 'dead', 6],
      [PRODUCT, 'rage', 5],
    ]);
  },
  // Nobody in the seed went back (a return within 5 s to the page before): src/store/heatmaps.integration.test.ts has some.
  v_quick_backs: (r) => {
    expect(r).toEqual([]);
  },
  // The newest seeded event (t0 + 6 s, a minute ago) is counted; the run finished after it.
  v_freshness: (r) => {
    expect(r).toHaveLength(1);
    const at = (v: unknown) => new Date(`${String(v).replace(' ', 'T')}Z`).getTime();
    expect(at(r[0]!.data_up_to)).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(at(r[0]!.aggregated_at)).toBeGreaterThanOrEqual(at(r[0]!.data_up_to));
  },
  v_devices: (r) => {
    expect(r.map((x) => x.device_type).sort()).toEqual(['desktop', 'mobile']);
    expect(r.map((x) => x.browser)).not.toContain('Rare');
  },
  v_page_devices: (r) => {
    expect(r.map((x) => [x.device_type, n(x.pageviews)])).toEqual([['mobile', 8]]);
  },
  v_sources: (r) => {
    const google = r.find((x) => x.referrer_host === 'www.google.com');
    expect(google).toMatchObject({ utm_campaign: 'winter' });
    expect(n(google!.visitors)).toBe(6);
    expect(r.map((x) => x.referrer_host)).not.toContain('tiny.example');
  },
  v_custom_events: (r) => {
    expect(r.map((x) => [x.name, n(x.events)])).toEqual([['checkout_start', 6]]);
  },
  v_entry_exit: (r) => {
    const by = Object.fromEntries(r.map((x) => [x.page, x]));
    expect(n(by[PRODUCT]!.entries)).toBe(8);
    expect(n(by['/cart']!.exits)).toBe(8);
    expect(n(by['/']!.bounces)).toBe(6);
    expect(by['/about']).toBeUndefined();
  },
  // Issue 13. The rare tile at home-grid position 2 (3 visitors) never shows, as a tile or a position.
  v_page_params: (r) => {
    // variant=white: 3 visitors, hidden.
    expect(r.map((x) => [x.param, x.value, n(x.pageviews), n(x.visitors)])).toEqual([['variant', 'black', 5, 5]]);
  },
  v_items: (r, sql) => {
    if (sql.includes("level = 'item'")) {
      expect(r.map((x) => [x.item, n(x.position), n(x.impressions), n(x.clicks), n(x.ctr)])).toEqual([
        ['usb-c-65w', 1, 8, 8, 1],
        ['power-bank-20k', 2, 8, 0, 0],
      ]);
      return;
    }
    expect(r.map((x) => [x.list, n(x.position), n(x.impressions), n(x.clicks), n(x.ctr)])).toEqual([
      ['home-grid', 1, 6, 0, 0],
      ['related', 1, 8, 8, 1],
      ['related', 2, 8, 0, 0],
    ]);
  },
  v_experiment: (r) => {
    // Arm a: the 6 desktop visitor-days, none reaches /cart; arm b: the 8 mobile ones, all do, after their exposure.
    expect(r.map((x) => [x.arm, n(x.visitors), n(x.conversions), n(x.rate), n(x.below_min_sample)])).toEqual([
      ['a', 6, 0, 0, 1],
      ['b', 8, 8, 1, 1],
    ]);
    expect(n(r[1]!.uplift)).toBe(1);
    expect(n(r[1]!.p_value)).toBeLessThan(0.001);
  },
  v_funnel: (r) => {
    // checkout_start (3 s) comes before /cart (4 s); rare_event (4 visitors) is below k: hidden, and so is its drop-off.
    expect(r.map((x) => [n(x.step), nn(x.visitors), n(x.fewer_than_k), nn(x.drop_off), nn(x.conversion)])).toEqual([
      [1, 8, 0, null, 1],
      [2, 6, 0, 2, 0.75],
      [3, 6, 0, 0, 0.75],
      [4, null, 1, null, null],
    ]);
  },
  v_custom_props: (r) => {
    // items = 3 (one visitor) is hidden, and alone it is too small a pool to show as (other).
    expect(r.map((x) => [x.key, x.value, n(x.events), n(x.visitors)])).toEqual([['items', '2', 5, 5]]);
  },
  v_pages_by_device: (r) => {
    expect(r.map((x) => [x.page, n(x.pageviews)])).toEqual([['/cart', 8], [PRODUCT, 8]]);
    expect(n(r[1]!.median_visible_ms)).toBeGreaterThanOrEqual(23_000);
    expect(n(r[1]!.median_scroll_depth)).toBeGreaterThanOrEqual(55);
  },
  // 8 page views over 40..75 %: at most 2 visitors a bucket, all hidden (as in v_scroll_depth).
  v_scroll_depth_by_device: (r) => expect(r).toEqual([]),
  v_visible_time_by_device: (r) => expect(r.map((x) => [n(x.from_s), n(x.views), n(x.visitors)])).toEqual([[10, 8, 8]]),
  v_transitions: (r) => {
    // /about → /about/team (3 visitors) is below k, alone and as 'other'.
    expect(r.map((x) => [x.from_page, x.to_page, n(x.transitions)])).toEqual([[PRODUCT, '/cart', 8]]);
  },
};

const list = examples();
const results = new Map<number, Row[]>();

const LIMITS = { maxExecutionSeconds: 10, maxMemoryBytes: 1 << 30, maxResultRows: 1_000_000, maxResultBytes: 100 << 20 };

/** As POST /query runs it for the analyst token: through the guard, then with the analyst settings. */
async function run(sql: string): Promise<Row[]> {
  const checked = await checkQuery(clickHouseParser(store.client), sql, 'analyst');
  const rs = await store.client.query({ query: withQuerySettings(checked, LIMITS, '00000000-0000-4000-8000-000000000000'), format: 'JSONEachRow' });
  return rs.json<Row>();
}

describe('docs/analysts.md examples', () => {
  it('documents every analyst view', async () => {
    const rs = await store.client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'v\\_%' ORDER BY name", format: 'JSONEachRow' });
    const views = (await rs.json<{ name: string }>()).map((v) => v.name);
    expect(views.length).toBeGreaterThanOrEqual(12);
    expect(new Set(list.map((e) => e.view))).toEqual(new Set(views));
  });

  it.each(list.map((e, i) => [i, e.view, e.sql] as const))('example %i (%s) returns the documented result', async (i, view, sql) => {
    const rows = await run(sql);
    checks[view]!(rows, sql);
    expect(JSON.stringify(rows)).not.toMatch(/\/about|tiny\.example|rare_event|footer>a\.rare|RareOS|rare-tile|white/);
    results.set(i, rows);
  });
});

describe('docs/analysts.md examples after the daily rollup', () => {
  beforeAll(async () => {
    // Two days on, the seeded day is finished: the views read it from the rollup tables.
    const rolled = await rollupFinishedDays(store.client, new Date(Date.now() + 2 * 86_400_000));
    expect(rolled).toContain(new Date().toISOString().slice(0, 10));
    // Prove the answers now come from the rollups alone: drop the short-lived per-visitor rows.
    for (const t of ['agg_visitor_days', 'agg_pageview_engagement', 'agg_visitor_pageviews']) await store.client.command({ query: `TRUNCATE TABLE ${t}` });
  });

  it.each(list.map((e, i) => [i, e.view, e.sql] as const))('example %i (%s) returns the same result', async (i, view, sql) => {
    const rows = await run(sql);
    checks[view]!(rows, sql);
    expect(JSON.stringify(rows)).not.toMatch(/\/about|tiny\.example|rare_event|footer>a\.rare|RareOS|rare-tile|white/);
    if (results.has(i)) expect(rows).toEqual(results.get(i));
  });
});
