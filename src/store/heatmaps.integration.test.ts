/**
 * The heatmap and frustration views (schemas/030_heatmaps.sql, schemas/views.sql)
 * on the real embedded ClickHouse, seeded with anonymised rows: width buckets
 * and the fallback to every desktop width together, page views and the fold
 * per width, clicked elements per width, element and block cells, rage and
 * dead clicks, quick backs; the same answers after the daily rollup; and the
 * width buckets agreeing across the three materialised views that compute one.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTs, perVisitor, row } from '../../test/support/rows.js';
import { tempDir } from '../../test/support/tmp.js';
import type { EventRow } from '../anonymise/types.js';
import { openStore, type Store } from './client.js';
import { aggregateNow } from './aggregator.js';
import { EventInserter } from './inserter.js';
import { migrate, type MigrationVars } from './migrate.js';
import { rollupFinishedDays, utcDay } from './rollup.js';

const dir = tempDir('heatmaps');
let store: Store;
const vars: MigrationVars = { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 };
const PAGE = '/p/grid';
const now = Date.now();
/** Today, and a finished day the rollup takes (two days ago, whose network states still exist: NETWORK_DAYS). */
const DAYS = [utcDay(new Date(now)), utcDay(new Date(now), 2)];
const tsOf = (day: string, second = 0) => formatTs(Date.parse(`${day}T10:00:00Z`) + second * 1000);
const params = (day: string, page = true) => `site='shop', date_from='${day}', date_to='${day}'${page ? `, page='${PAGE}'` : ''}`;

async function rows<T>(sql: string): Promise<T[]> {
  const rs = await store.client.query({ query: sql, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Page x as the worker stores it: `dx` px from the centre line of a document of the bucket's width. */
const click = (viewport_w: number, dx: number, page_y: number, patch: Partial<EventRow> = {}): Partial<EventRow> => ({
  path: PAGE,
  type: 'click',
  viewport_w,
  page_x: viewport_w / 2 + dx,
  page_y,
  click_selector: 'main>section.grid>article.tile:nth-of-type(2)>button.add',
  click_label: 'add-to-cart',
  click_x: 0.5,
  click_y: 0.5,
  ...patch,
});

function seed(day: string): EventRow[] {
  const ts = tsOf(day);
  const at = (r: Partial<EventRow>) => ({ ts, ...r });
  return [
    // One button (80 px right of the centre, 400 px down): 5 visitors at 1280, 6 at 1440, 3 at 1920.
    ...perVisitor(5, 100, () => at(click(1280, 85, 405))),
    ...perVisitor(6, 200, () => at(click(1440, 85, 405))),
    ...perVisitor(3, 300, () => at(click(1920, 85, 405))),
    // Another cell: 2 visitors at each desktop width (each width below k, together 6): shown only as width 0.
    ...perVisitor(2, 400, () => at(click(1280, -300, 1000))),
    ...perVisitor(2, 410, () => at(click(1440, -300, 1000))),
    ...perVisitor(2, 420, () => at(click(1920, -300, 1000))),
    // Mobile: 5 visitors, one cell.
    ...perVisitor(5, 500, () => at(click(390, -20, 300, { click_selector: 'main>button.menu', click_label: '' }))),
    // Page views: 7 at 1280 (height 700), 8 at 1440 (height 900; 6 more in pageSequences), 3 at 1920 (height 1000), 5 mobile.
    ...perVisitor(7, 100, () => at({ path: PAGE, viewport_w: 1280, viewport_h: 700 })),
    ...perVisitor(8, 200, () => at({ path: PAGE, viewport_w: 1440, viewport_h: 900 })),
    ...perVisitor(3, 300, () => at({ path: PAGE, viewport_w: 1920, viewport_h: 1000 })),
    ...perVisitor(5, 500, () => at({ path: PAGE, viewport_w: 390, viewport_h: 800 })),
    // Tiles: 6 visitors click the left part of a tile's image (the tile frame: every tile of the list together).
    ...perVisitor(6, 600, (_v, i) =>
      at(click(1440, -200, 300, { click_selector: `main>section.grid>article.tile:nth-of-type(${1 + (i % 3)})>a.thumb`, click_label: 'product-card', item_id: `p-${i % 3}`, item_list: 'home-grid', item_pos: 1 + (i % 3), block_x: 0.1, block_y: 0.3, click_x: 0.15, click_y: 0.45 })),
    ),
    // Rage: 5 visitors on the hero image (also dead); dead only: 2 visitors (below k).
    ...perVisitor(5, 700, () => at(click(1440, 0, 150, { click_selector: 'main>div.hero', click_label: '', click_rage: 1, click_dead: 1 }))),
    ...perVisitor(2, 710, () => at(click(1440, 0, 150, { click_selector: 'main>div.hero', click_label: '', click_dead: 1 }))),
  ];
}

/** Page views of 6 visitors L → P → L, the return within 5 s for 5 of them (quick backs on P) and after 9 s for one. */
function pageSequences(day: string): EventRow[] {
  return perVisitor(6, 800, () => ({})).flatMap((v, i) => {
    const base = { site: 'shop', visitor_id: v.visitor_id, ip_prefix: v.ip_prefix };
    const back = i < 5 ? 4 : 9;
    return [
      row({ ...base, path: '/list', ts: tsOf(day, 0) }),
      row({ ...base, path: PAGE, ts: tsOf(day, 10) }),
      row({ ...base, path: '/list', ts: tsOf(day, 10 + back) }),
    ];
  });
}

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, vars);
  const ins = new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 });
  // The aggregates follow `events` in the background (src/store/aggregator.ts) and read each row's network from
  // `events.ip_prefix`, which a column TTL clears two days after ts (schemas/008): kept here while the day two
  // days back is aggregated, as it would have been within seconds of its insert.
  await store.client.command({ query: 'ALTER TABLE events MODIFY COLUMN ip_prefix TTL toDateTime(ts) + INTERVAL 30 DAY SETTINGS materialize_ttl_after_modify = 0' });
  await ins.add(DAYS.flatMap((d) => [...seed(d), ...pageSequences(d)]), 'seed');
  await aggregateNow(store.client);
  await store.client.command({ query: 'ALTER TABLE events MODIFY COLUMN ip_prefix TTL toDateTime(ts) + INTERVAL 2 DAY SETTINGS materialize_ttl_after_modify = 0' });
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Cell {
  viewport: string;
  width: number;
  cell_x: number;
  cell_y: number;
  clicks: number;
  visitors: number;
}

/** Each view's answers for both seeded days, so that the rolled-up day can be compared with the live one. */
async function answers(day: string) {
  return {
    cells: await rows<Cell>(`SELECT * FROM v_heatmap_cells(${params(day)}) ORDER BY viewport, width, cell_y, cell_x`),
    widths: await rows<{ viewport: string; width: number; pageviews: number; visitors: number; median_viewport_h: number }>(
      `SELECT * FROM v_heatmap_widths(${params(day)}) ORDER BY viewport, width`,
    ),
    targets: await rows<{ viewport: string; width: number; target: string; label: string; clicks: number; rage_clicks: number; dead_clicks: number }>(
      `SELECT viewport, width, target, label, clicks, rage_clicks, dead_clicks FROM v_heatmap_targets(${params(day)}) ORDER BY viewport, width, target`,
    ),
    elements: await rows<{ frame: string; element: string; label: string; cell_x: number; cell_y: number; clicks: number }>(
      `SELECT frame, element, label, cell_x, cell_y, clicks FROM v_element_heatmap(${params(day)}) ORDER BY frame, element, cell_y, cell_x`,
    ),
    frustration: await rows<{ page: string; signal: string; clicks: number; visitors: number }>(`SELECT * FROM v_frustration(${params(day, false)}) ORDER BY page, signal`),
    quickBacks: await rows<{ page: string; quick_backs: number; visitors: number }>(`SELECT * FROM v_quick_backs(${params(day, false)})`),
    clickTargets: await rows<{ target: string; clicks: number; rage_clicks: number; dead_clicks: number }>(
      `SELECT target, clicks, rage_clicks, dead_clicks FROM v_click_targets(${params(day)}) ORDER BY target`,
    ),
  };
}

const live: Record<string, Awaited<ReturnType<typeof answers>>> = {};

describe('heatmap views', () => {
  it('answer per width bucket, from the centre line, falling back to every desktop width together', async () => {
    const a = (live[DAYS[0]!] = await answers(DAYS[0]!));
    // The button: cell (4, 20) at every width (85 px right of the centre line, 405 px down; 20 px cells).
    const button = a.cells.filter((c) => c.cell_x === 4 && c.cell_y === 20);
    expect(button.map((c) => [c.width, c.clicks, c.visitors])).toEqual([
      [1280, 5, 5],
      [1440, 6, 6],
    ]);
    // 1920 (3 visitors) is hidden, and so is the width-0 row of that cell: a width of it is shown, so "all widths"
    // minus the shown widths would be the hidden 3.
    // The thin cell (2 + 2 + 2 visitors) has no width row and is shown for every desktop width together.
    expect(a.cells.filter((c) => c.cell_x === -15 && c.cell_y === 50).map((c) => [c.viewport, c.width, c.clicks, c.visitors])).toEqual([['desktop', 0, 6, 6]]);
    expect(a.cells.filter((c) => c.viewport === 'mobile').map((c) => [c.width, c.cell_x, c.cell_y, c.clicks])).toEqual([[390, -1, 15, 5]]);
    expect(a.cells.every((c) => Number(c.visitors) >= 5)).toBe(true);
  });

  it('count page views and the median viewport height per width, under the same rule', async () => {
    const a = live[DAYS[0]!]!;
    expect(a.widths.map((w) => [w.viewport, w.width, Number(w.pageviews), w.median_viewport_h])).toEqual([
      ['desktop', 1280, 7, 700],
      ['desktop', 1440, 14, 900],
      ['mobile', 390, 5, 800],
    ]);
  });

  it('list clicked elements per width with rage and dead clicks, and v_click_targets gains them', async () => {
    const a = live[DAYS[0]!]!;
    const hero = a.targets.filter((t) => t.target === 'main>div.hero');
    // 7 visitors at 1440: 5 rage (and dead) clicks, 7 dead clicks in all.
    expect(hero.map((t) => [t.width, Number(t.clicks), Number(t.rage_clicks), Number(t.dead_clicks)])).toEqual([[1440, 7, 5, 7]]);
    const all = a.clickTargets.find((t) => t.target === 'main>div.hero')!;
    expect([Number(all.clicks), Number(all.rage_clicks), Number(all.dead_clicks)]).toEqual([7, 5, 7]);
  });

  it('give element cells (the clicked element) and tile cells (every tile of a list together)', async () => {
    const a = live[DAYS[0]!]!;
    // The tiles' images: 2 visitors per tile, so no single image is shown; as the list's tiles, 6 visitors in one cell.
    expect(a.elements.filter((e) => e.frame === 'tile').map((e) => [e.element, e.label, e.cell_x, e.cell_y, Number(e.clicks)])).toEqual([
      ['home-grid', 'product-card', 0, 1, 6],
    ]);
    expect(a.elements.filter((e) => e.element.endsWith('a.thumb'))).toEqual([]);
    // The add button (every width, and the thin cell's clicks too): 20 visitors in its centre cell.
    expect(a.elements.filter((e) => e.element.endsWith('button.add')).map((e) => [e.frame, e.cell_x, e.cell_y, Number(e.clicks)])).toEqual([['element', 2, 2, 20]]);
  });

  it('count rage and dead clicks per page, and quick backs', async () => {
    const a = live[DAYS[0]!]!;
    expect(a.frustration.map((f) => [f.page, f.signal, Number(f.clicks), Number(f.visitors)])).toEqual([
      [PAGE, 'dead', 7, 7],
      [PAGE, 'rage', 5, 5],
    ]);
    expect(a.quickBacks.map((q) => [q.page, Number(q.quick_backs), Number(q.visitors)])).toEqual([[PAGE, 5, 5]]);
  });

  it('answer the same for a day after it is rolled up', async () => {
    const old = DAYS[1]!;
    const before = await answers(old);
    expect(before.quickBacks).toHaveLength(1);
    expect(before.cells.length).toBeGreaterThan(0);
    expect(await rollupFinishedDays(store.client, new Date(now))).toContain(old);
    // The networks states go after NETWORK_DAYS; what the views need is the count the rollup stored.
    for (const t of ['agg_heatmap_cells', 'agg_heatmap_widths', 'agg_heatmap_targets', 'agg_element_cells', 'agg_page_frustration']) {
      await store.client.command({ query: `ALTER TABLE ${t} UPDATE networks = initializeAggregation('uniqCombinedState(12)', toUInt64(0)) WHERE day = '${old}' SETTINGS mutations_sync = 2` });
    }
    await store.client.command({ query: `ALTER TABLE agg_visitor_pageviews UPDATE network = 0 WHERE day = '${old}' SETTINGS mutations_sync = 2` });
    expect(await answers(old)).toEqual(before);
    expect(before).toEqual(live[DAYS[0]!]);
  });

  it('bucket widths the same way in every view that has them', async () => {
    const ws = [320, 414, 768, 1000, 1024, 1279, 1280, 1366, 1439, 1440, 1536, 1919, 1920, 2560];
    const ts = tsOf(DAYS[0]!);
    const probe = ws.flatMap((w) => [
      row({ ts, path: `/w/${w}`, type: 'click', viewport_w: w, page_x: Math.floor(w / 2), page_y: 0, click_selector: 'main>a' }),
      row({ ts, path: `/w/${w}`, type: 'pageview', viewport_w: w, viewport_h: 800 }),
    ]);
    await new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 }).add(probe, 'probe');
    await aggregateNow(store.client);
    const q = (t: string) =>
      rows<{ path: string; widths: number[] }>(`SELECT path, arraySort(groupUniqArray(width)) AS widths FROM ${t} WHERE path LIKE '/w/%' GROUP BY path ORDER BY path`);
    const cells = await q('agg_heatmap_cells');
    expect(await q('agg_heatmap_widths')).toEqual(cells);
    expect(await q('agg_heatmap_targets')).toEqual(cells);
    const want = (w: number) => (w < 768 ? [390] : w < 1024 ? [768] : [0, w < 1280 ? 1024 : w < 1440 ? 1280 : w < 1920 ? 1440 : 1920]);
    expect(cells).toEqual(ws.map((w) => ({ path: `/w/${w}`, widths: want(w) })).sort((a, b) => a.path.localeCompare(b.path)));
  });
});
