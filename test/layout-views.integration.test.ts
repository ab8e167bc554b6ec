/**
 * The layout views of issue 13 on seeded rows (embedded ClickHouse, k = 5),
 * queried as an analyst (through the guard, with the analyst settings):
 * click-through per tile and per position, a layout experiment with a known
 * answer (200 vs 200 visitor-days, 20 vs 40 conversions: p < 0.01), a funnel
 * whose small last step is hidden and cannot be inferred, custom props with
 * their rare values folded into (other), per-device page figures. Then the
 * seeded days are rolled up, the short-lived rows the rollup replaces are
 * dropped and the network hashes reset (as NETWORK_DAYS does): every answer
 * must stay the same.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRow } from '../src/anonymise/types.js';
import { checkQuery } from '../src/query/guard.js';
import { withQuerySettings } from '../src/query/settings.js';
import { openStore, type Store } from '../src/store/client.js';
import { EventInserter } from '../src/store/inserter.js';
import { aggregateNow } from '../src/store/aggregator.js';
import { applyColumnRetention, migrate } from '../src/store/migrate.js';
import { clickHouseParser } from '../src/store/parser.js';
import { rollupFinishedDays } from '../src/store/rollup.js';
import { formatTs, perVisitor } from './support/rows.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('layout-views');
const VARS = { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 };
let store: Store;

const DAY = 86_400_000;
/** Noon UTC today and yesterday: a few seconds later is still the same day. */
const T = Math.floor(Date.now() / DAY) * DAY + 12 * 3_600_000;
const Y = T - DAY;
const at = (t: number, s = 0) => formatTs(t + s * 1000);
const PERIOD = "site = 'shop', date_from = today() - 7, date_to = today()";

type Row = Record<string, string | number | null>;
const LIMITS = { maxExecutionSeconds: 30, maxMemoryBytes: 1 << 30, maxResultRows: 1_000_000, maxResultBytes: 100 << 20 };

/** As POST /query runs it for the analyst token: through the guard, then with the analyst settings. */
async function analyst(sql: string): Promise<Row[]> {
  const checked = await checkQuery(clickHouseParser(store.client), sql, 'analyst');
  const rs = await store.client.query({ query: withQuerySettings(checked, LIMITS, '00000000-0000-4000-8000-000000000000'), format: 'JSONEachRow' });
  return rs.json<Row>();
}

const tile = (type: 'impression' | 'click', item: string, pos: number, t = T, s = 0): Partial<EventRow> => ({ type, path: '/', item_id: item, item_list: 'home-grid', item_pos: pos, ts: at(t, s) });

function seed(): EventRow[] {
  const rows: EventRow[] = [];
  // Tiles. 10 visitors see usb-c-65w at 1, power-bank at 2, usb-c-hub at 3; 4 click the first, 1 the second.
  for (const [item, pos] of [['usb-c-65w', 1], ['power-bank', 2], ['usb-c-hub', 3]] as const) rows.push(...perVisitor(10, 100, () => tile('impression', item, pos)));
  rows.push(...perVisitor(4, 100, () => tile('click', 'usb-c-65w', 1, T, 2)));
  rows.push(...perVisitor(1, 104, () => tile('click', 'power-bank', 2, T, 2)));
  // 6 visitors see the other order (power-bank first); 3 click it.
  rows.push(...perVisitor(6, 200, () => tile('impression', 'power-bank', 1)), ...perVisitor(6, 200, () => tile('impression', 'usb-c-65w', 2)));
  rows.push(...perVisitor(3, 200, () => tile('click', 'power-bank', 1, T, 2)));
  // 3 visitors see (and click) a tile at position 4: below k, as a tile and as a position.
  rows.push(...perVisitor(3, 300, () => tile('impression', 'braided-cable', 4)), ...perVisitor(3, 300, () => tile('click', 'braided-cable', 4, T, 2)));

  // A layout experiment: 200 visitor-days per arm; 20 of arm a and 40 of arm b reach /checkout/done after exposure.
  const exposed = (arm: string, t = T) => () => ({ path: '/', variants: { 'grid-layout': arm }, ts: at(t) });
  rows.push(...perVisitor(200, 10_000, exposed('a')), ...perVisitor(200, 20_000, exposed('b')));
  rows.push(...perVisitor(20, 10_000, () => ({ path: '/checkout/done', ts: at(T, 30) })), ...perVisitor(40, 20_000, () => ({ path: '/checkout/done', ts: at(T, 30) })));
  // Reaching the goal before the first exposure is no conversion; nor is a visitor-day never exposed.
  rows.push(...perVisitor(10, 10_100, () => ({ path: '/checkout/done', ts: at(T, -60) })), ...perVisitor(30, 30_000, () => ({ path: '/checkout/done', ts: at(T) })));
  // A visitor-day shown both arms belongs to the first: 8 visitor-days of arm b see arm a a minute later, and convert.
  rows.push(...perVisitor(8, 20_100, () => ({ path: '/', variants: { 'grid-layout': 'a' }, ts: at(T, 60) })));
  // Yesterday arm b had 3 visitor-days only: that whole day is hidden, its 30 converting visitor-days of arm a too.
  rows.push(...perVisitor(30, 40_000, exposed('a', Y)), ...perVisitor(30, 40_000, () => ({ path: '/checkout/done', ts: at(Y, 30) })), ...perVisitor(3, 41_000, exposed('b', Y)));
  // Experiments that must not show: an arm of 4; an arm of 10 visitor-days from two networks.
  rows.push(...perVisitor(50, 50_000, () => ({ path: '/', variants: { tiny: 'a' }, ts: at(T) })), ...perVisitor(4, 51_000, () => ({ path: '/', variants: { tiny: 'b' }, ts: at(T) })));
  rows.push(...perVisitor(50, 52_000, () => ({ path: '/', variants: { shared: 'a' }, ts: at(T) })));
  rows.push(...perVisitor(10, 53_000, (_v, i) => ({ path: '/', variants: { shared: 'b' }, ts: at(T), ip_prefix: `10.99.${i % 2}.0/24` })));
  // A probe: a goal reached by 2 visitor-days only (a page v_pages hides) counts on no day, so nothing shows.
  rows.push(...perVisitor(10, 56_000, () => ({ path: '/', variants: { probe: 'a' }, ts: at(T) })), ...perVisitor(10, 57_000, () => ({ path: '/', variants: { probe: 'b' }, ts: at(T) })));
  rows.push(...perVisitor(2, 57_000, () => ({ path: '/rare-page', ts: at(T, 30) })));
  // 60 vs 60: shown, flagged below the minimum sample.
  rows.push(...perVisitor(60, 54_000, () => ({ path: '/', variants: { small: 'a' }, ts: at(T) })), ...perVisitor(60, 55_000, () => ({ path: '/', variants: { small: 'b' }, ts: at(T) })));

  // A checkout funnel: 12 visitor-days view a product, 9 then the cart, 7 start the checkout, 3 finish it (below k).
  const mobile = { device_type: 'mobile', browser: 'Mobile Safari', os: 'iOS', viewport_w: 390 };
  rows.push(...perVisitor(12, 60_000, (_v, i) => ({ path: `/products/p${i % 3}`, ts: at(T), ...(i < 6 ? mobile : {}) })));
  rows.push(...perVisitor(9, 60_000, (_v, i) => ({ path: '/cart', ts: at(T, 10), ...(i < 6 ? mobile : {}) })));
  rows.push(...perVisitor(7, 60_000, (_v, i) => ({ type: 'custom', path: '/cart', custom_name: 'checkout_start', ts: at(T, 20), ...(i < 6 ? mobile : {}) })));
  rows.push(...perVisitor(3, 60_000, (_v, i) => ({ path: '/checkout/done', ts: at(T, 40), ...(i < 6 ? mobile : {}) })));
  // Out of order: 5 visitor-days see the cart first and a product after it: they reach step 1 only.
  rows.push(...perVisitor(5, 61_000, () => ({ path: '/cart', ts: at(T) })), ...perVisitor(5, 61_000, () => ({ path: '/products/p1', ts: at(T, 10) })));

  // Custom props: sku values of add_to_cart; hub and cable (3 visitors each) are hidden, and pooled into (other).
  const add = (sku: string, extra: Record<string, string> = {}) => () => ({ type: 'custom' as const, path: '/', custom_name: 'add_to_cart', custom_props: { sku, ...extra }, ts: at(T) });
  rows.push(...perVisitor(8, 70_000, add('usb-c-65w')), ...perVisitor(6, 71_000, add('power-bank')), ...perVisitor(3, 72_000, add('usb-c-hub')), ...perVisitor(3, 73_000, add('braided-cable')));
  // colour: each value has 2 visitors; the pool (4) is below k too: nothing of colour shows.
  rows.push(...perVisitor(2, 74_000, add('usb-c-65w', { colour: 'red' })), ...perVisitor(2, 75_000, add('usb-c-65w', { colour: 'blue' })));

  // Per device: 6 mobile and 6 desktop page views of /collections/chargers with different stays and scroll depths.
  const page = '/collections/chargers';
  rows.push(...perVisitor(6, 80_000, () => ({ path: page, ts: at(T), ...mobile })), ...perVisitor(6, 81_000, () => ({ path: page, ts: at(T) })));
  rows.push(...perVisitor(6, 80_000, (_v, i) => ({ type: 'engagement', path: page, ts: at(T, 5), visible_ms: 4_000 + i * 100, scroll_depth: 95, ...mobile })));
  rows.push(...perVisitor(6, 81_000, (_v, i) => ({ type: 'engagement', path: page, ts: at(T, 5), visible_ms: 40_000 + i * 1000, scroll_depth: 35 })));
  return rows;
}

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, VARS);
  await new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 }).add(seed(), 'seed');
  await aggregateNow(store.client); // the aggregates follow `events` in the background (src/store/aggregator.ts)
}, 120_000);
afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const n = (v: unknown) => (v === null ? null : Number(v));

const QUERIES = {
  items: `SELECT level, item, position, impressions, clicks, ctr, visitors FROM v_items(${PERIOD}, list = 'home-grid')`,
  experiment: `SELECT * FROM v_experiment(${PERIOD}, experiment = 'grid-layout', goal = '/checkout/done')`,
  tiny: `SELECT * FROM v_experiment(${PERIOD}, experiment = 'tiny', goal = '/checkout/done')`,
  shared: `SELECT * FROM v_experiment(${PERIOD}, experiment = 'shared', goal = '/checkout/done')`,
  small: `SELECT arm, visitors, below_min_sample FROM v_experiment(${PERIOD}, experiment = 'small', goal = '/')`,
  probe: `SELECT * FROM v_experiment(${PERIOD}, experiment = 'probe', goal = '/rare-page')`,
  probeOpen: `SELECT arm, visitors, conversions FROM v_experiment(${PERIOD}, experiment = 'probe', goal = '/')`,
  funnel: `SELECT step, name, visitors, fewer_than_k, drop_off, conversion FROM v_funnel(${PERIOD}, steps = ['/products/*', '/cart', 'checkout_start', '/checkout/done'], device = '')`,
  funnelMobile: `SELECT step, visitors, fewer_than_k FROM v_funnel(${PERIOD}, steps = ['/products/*', '/cart', 'checkout_start'], device = 'mobile')`,
  props: `SELECT key, value, events, visitors FROM v_custom_props(${PERIOD}, name = 'add_to_cart')`,
  pagesMobile: `SELECT page, pageviews, median_visible_ms, median_scroll_depth FROM v_pages_by_device(${PERIOD}, device = 'mobile') WHERE page = '/collections/chargers'`,
  pagesDesktop: `SELECT page, pageviews, median_visible_ms, median_scroll_depth FROM v_pages_by_device(${PERIOD}, device = 'desktop') WHERE page = '/collections/chargers'`,
  scrollMobile: `SELECT depth, views FROM v_scroll_depth_by_device(${PERIOD}, page = '/collections/chargers', device = 'mobile')`,
  scrollDesktop: `SELECT depth, views FROM v_scroll_depth_by_device(${PERIOD}, page = '/collections/chargers', device = 'desktop')`,
  stayMobile: `SELECT from_s, views FROM v_visible_time_by_device(${PERIOD}, page = '/collections/chargers', device = 'mobile')`,
  stayDesktop: `SELECT from_s, views FROM v_visible_time_by_device(${PERIOD}, page = '/collections/chargers', device = 'desktop')`,
} as const;

const checks: Record<keyof typeof QUERIES, (r: Row[]) => void> = {
  items: (r) => {
    const got = r.map((x) => [x.level, x.item, n(x.position), n(x.impressions), n(x.clicks), n(x.ctr), n(x.visitors)]);
    expect(got).toEqual([
      ['item', 'power-bank', 1, 6, 3, 0.5, 6],
      ['item', 'usb-c-65w', 1, 10, 4, 0.4, 10],
      ['item', 'power-bank', 2, 10, 1, 0.1, 10],
      ['item', 'usb-c-65w', 2, 6, 0, 0, 6],
      ['item', 'usb-c-hub', 3, 10, 0, 0, 10],
      // Position-level rows: whatever the tile; position 4 (3 visitors) is hidden like its tile.
      ['position', '', 1, 16, 7, 0.4375, 16],
      ['position', '', 2, 16, 1, 0.0625, 16],
      ['position', '', 3, 10, 0, 0, 10],
    ]);
  },
  experiment: (r) => {
    expect(r.map((x) => [x.arm, n(x.visitors), n(x.conversions), n(x.rate)])).toEqual([
      ['a', 200, 20, 0.1],
      ['b', 200, 40, 0.2],
    ]);
    const [a, b] = r as [Row, Row];
    expect([a.uplift, a.ci_low, a.ci_high, a.p_value]).toEqual([null, null, null, null]);
    expect(n(b.uplift)).toBeCloseTo(0.1, 4);
    // Wald: 0.1 ± 1.96 · sqrt(0.1·0.9/200 + 0.2·0.8/200) = 0.1 ± 0.0693.
    expect(n(b.ci_low)).toBeCloseTo(0.0307, 3);
    expect(n(b.ci_high)).toBeCloseTo(0.1693, 3);
    // Pooled z = 0.1 / sqrt(0.15 · 0.85 · 2/200) = 2.80: p = 0.0051.
    expect(n(b.p_value)).toBeLessThan(0.01);
    expect(n(b.p_value)).toBeCloseTo(0.0051, 3);
    expect(r.map((x) => n(x.below_min_sample))).toEqual([0, 0]);
  },
  tiny: (r) => expect(r).toEqual([]),
  shared: (r) => expect(r).toEqual([]),
  small: (r) => expect(r.map((x) => [x.arm, n(x.visitors), n(x.below_min_sample)])).toEqual([['a', 60, 1], ['b', 60, 1]]),
  probe: (r) => expect(r).toEqual([]),
  // The same arms with a goal that is itself a shown cell: there they are.
  probeOpen: (r) => expect(r.map((x) => [x.arm, n(x.visitors), n(x.conversions)])).toEqual([['a', 10, 10], ['b', 10, 10]]),
  funnel: (r) => {
    expect(r.map((x) => [n(x.step), x.name, n(x.visitors), n(x.fewer_than_k), n(x.drop_off), n(x.conversion)])).toEqual([
      [1, '/products/*', 17, 0, null, 1],
      [2, '/cart', 9, 0, 8, 0.5294],
      [3, 'checkout_start', 7, 0, 2, 0.4118],
      // 3 finished: not shown, and not inferable: no count, no drop-off.
      [4, '/checkout/done', null, 1, null, null],
    ]);
  },
  funnelMobile: (r) => expect(r.map((x) => [n(x.step), n(x.visitors), n(x.fewer_than_k)])).toEqual([[1, 6, 0], [2, 6, 0], [3, 6, 0]]),
  props: (r) => {
    expect(r.map((x) => [x.key, x.value, n(x.events), n(x.visitors)])).toEqual([
      ['sku', 'usb-c-65w', 12, 12],
      ['sku', 'power-bank', 6, 6],
      ['sku', '(other)', 6, 6],
    ]);
  },
  pagesMobile: (r) => {
    expect(r.map((x) => [n(x.pageviews), n(x.median_scroll_depth)])).toEqual([[6, 95]]);
    expect(n(r[0]!.median_visible_ms)).toBeLessThan(5_000);
  },
  pagesDesktop: (r) => {
    expect(r.map((x) => [n(x.pageviews), n(x.median_scroll_depth)])).toEqual([[6, 35]]);
    expect(n(r[0]!.median_visible_ms)).toBeGreaterThan(40_000);
  },
  scrollMobile: (r) => expect(r.map((x) => [n(x.depth), n(x.views)])).toEqual([[90, 6]]),
  scrollDesktop: (r) => expect(r.map((x) => [n(x.depth), n(x.views)])).toEqual([[30, 6]]),
  stayMobile: (r) => expect(r.map((x) => [n(x.from_s), n(x.views)])).toEqual([[3, 6]]),
  stayDesktop: (r) => expect(r.map((x) => [n(x.from_s), n(x.views)])).toEqual([[30, 6]]),
};

const first = new Map<string, Row[]>();
const names = Object.keys(QUERIES) as (keyof typeof QUERIES)[];

describe('layout views on live days', () => {
  it.each(names)('%s', async (name) => {
    const rows = await analyst(QUERIES[name]);
    checks[name](rows);
    first.set(name, rows);
  });
});

describe('layout views after the daily rollup', () => {
  beforeAll(async () => {
    const rolled = await rollupFinishedDays(store.client, new Date(Date.now() + 2 * DAY));
    expect(rolled).toContain(new Date(T).toISOString().slice(0, 10));
    // What the rollup replaces goes (as RETENTION_DAYS would take it), and every network hash is reset (as
    // NETWORK_DAYS does): the answers must now come from the rollups and the stored network_rep.
    for (const t of ['agg_visitor_days', 'agg_pageview_engagement', 'agg_visitor_pageviews']) await store.client.command({ query: `TRUNCATE TABLE ${t}` });
    await applyColumnRetention(store.client, VARS, undefined, 0);
    const left = await store.client.query({ query: 'SELECT countIf(network != 0) AS n FROM agg_visitor_networks', format: 'JSONEachRow' });
    expect(Number((await left.json<{ n: number }>())[0]!.n)).toBe(0);
  }, 120_000);

  it.each(names)('%s is the same', async (name) => {
    const rows = await analyst(QUERIES[name]);
    checks[name](rows);
    expect(rows).toEqual(first.get(name));
  });
});
