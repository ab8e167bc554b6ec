/**
 * Migrations, retention and the analyst views on the real embedded
 * ClickHouse, seeded with anonymised rows.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { networkOf, perVisitor, row, formatTs } from '../../test/support/rows.js';
import { tempDir } from '../../test/support/tmp.js';
import { openStore, StoreLockedError, type Store } from './client.js';
import { EventInserter, InsertError } from './inserter.js';
import { rowsRejected } from './errors.js';
import { existingEventIds } from './dedup.js';
import type { EventRow } from '../anonymise/types.js';
import { applyColumnRetention, applyRetention, migrate, retentionTtls, type MigrationVars } from './migrate.js';
import { NETWORK_COLUMNS, NETWORK_DAYS, ROLLUP_SQL, rollupFinishedDays } from './rollup.js';
import { aggregateNow } from './aggregator.js';

const dir = tempDir('store');
let store: Store;
const vars: MigrationVars = { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 };
const today = new Date().toISOString().slice(0, 10);
const period = `site='shop', date_from='${today}', date_to='${today}'`;

/** Reads after bringing the aggregates up to date (they are filled from `events` in the background: src/store/aggregator.ts). */
async function rows<T>(sql: string): Promise<T[]> {
  await aggregateNow(store.client);
  const rs = await store.client.query({ query: sql, format: 'JSONEachRow' });
  return rs.json<T>();
}

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  expect(await migrate(store.client, vars)).toBeGreaterThanOrEqual(2);
  const ins = new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 });
  await ins.add(
    [
      // 6 visitors on /p/a: page views, engagement, clicks in the top-left region.
      ...perVisitor(6, 100, () => ({ path: '/p/a' })),
      ...perVisitor(6, 100, (_v, i) => ({ path: '/p/a', type: 'engagement', visible_ms: 10_000 + i * 1000, scroll_depth: 50 + i * 5 })),
      ...perVisitor(6, 100, () => ({ path: '/p/a', type: 'click', page_x: 100, page_y: 120, click_selector: 'main>button.add', click_label: 'add-to-cart' })),
      // 4 visitors (k-1) on /p/rare and 3 on /p/rare2: each is suppressed, and nothing adds them up.
      ...perVisitor(4, 200, () => ({ path: '/p/rare' })),
      ...perVisitor(3, 300, () => ({ path: '/p/rare2' })),
      // 2 visitors click elsewhere on /p/a: a cell below k never shows.
      ...perVisitor(2, 400, () => ({ path: '/p/a', type: 'click', page_x: 1300, page_y: 2000, click_selector: 'footer>a.secret' })),
    ],
    'seed',
  );
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('are recorded and idempotent', async () => {
    expect(await migrate(store.client, vars)).toBe(0);
    const done = await rows<{ name: string }>('SELECT name FROM schema_migrations FINAL ORDER BY version');
    expect(done.map((r) => r.name)).toEqual(expect.arrayContaining(['001_events', '002_aggregates']));
  });

  it('refuse a second process on the same data directory with a clear error', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import('./src/store/client.ts').then(m => m.openStore({ dataDir: ${JSON.stringify(dir)} })).then(() => process.exit(0), e => { console.error(e.name + ': ' + e.message); process.exit(3) })`], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/StoreLockedError: cannot open the embedded ClickHouse .* another process/);
    expect(StoreLockedError.name).toBe('StoreLockedError');
  });
});

describe('analyst views suppress groups below k', () => {
  it('v_pages shows released pages only, and never a k-1 group, alone or folded into other', async () => {
    const pages = await rows<{ page: string; visitors: string; pageviews: string; median_visible_ms: number }>(`SELECT * FROM v_pages(${period})`);
    const byPage = Object.fromEntries(pages.map((p) => [p.page, p]));
    expect(Number(byPage['/p/a']!.visitors)).toBe(8);
    expect(Number(byPage['/p/a']!.pageviews)).toBe(6);
    expect(byPage['/p/a']!.median_visible_ms).toBeGreaterThanOrEqual(12_000);
    expect(byPage['/p/a']!.median_visible_ms).toBeLessThanOrEqual(13_000);
    expect(byPage.other).toBeUndefined();
    expect(byPage['/p/rare']).toBeUndefined();
    expect(byPage['/p/rare2']).toBeUndefined();
  });

  it('v_heatmap shows the hot cell and hides a cell of 2 visitors', async () => {
    const cells = await rows<{ viewport: string; cell_x: number; cell_y: number; clicks: string; visitors: string }>(`SELECT * FROM v_heatmap(${period}, page='/p/a')`);
    // 64-bit integers arrive as numbers from the embedded engine and as strings from a server.
    expect(cells.map((c) => ({ ...c, clicks: Number(c.clicks), visitors: Number(c.visitors) }))).toEqual([
      { viewport: 'desktop', cell_x: 3, cell_y: 4, clicks: 6, visitors: 6 },
    ]);
  });

  it('v_click_targets folds the rare selector away', async () => {
    const t = await rows<{ target: string; label: string }>(`SELECT target, label FROM v_click_targets(${period}, page='/p/a')`);
    expect(t).toEqual([{ target: 'main>button.add', label: 'add-to-cart' }]);
  });

  it('v_summary counts the visitors and bounces of released cells only', async () => {
    // /p/a (8 visitors, 6 page views, 6 single-page visits) is released; /p/rare (4) and /p/rare2 (3) are not.
    const [s] = await rows<{ pageviews: string; visitors: string; bounce_rate: number }>(`SELECT * FROM v_summary(${period})`);
    expect(Number(s!.pageviews)).toBe(6);
    expect(Number(s!.visitors)).toBe(8);
    expect(s!.bounce_rate).toBe(1);
  });

  it('counts networks too: visitors behind one network prefix are one', async () => {
    // 6 daily visitor hashes (six browsers) behind one /24.
    const one = perVisitor(6, 600, () => ({ path: '/p/one-network', ip_prefix: '198.51.100.0/24' }));
    await new EventInserter(store.client, { batchRows: 1000, flushMs: 10 }).add(one, 'one-network');
    const pages = await rows<{ page: string }>(`SELECT page FROM v_pages(${period})`);
    expect(pages.map((p) => p.page)).not.toContain('/p/one-network');
  });
});

describe('engagement is counted per page view', () => {
  it('takes the largest running total of a page view that reported several times', async () => {
    // 5 visitors, one page view each; the tracker reported 1 s, then 2 s (tab hidden), then 30 s (page left).
    const reports: EventRow[] = [];
    for (let v = 0; v < 5; v++) {
      const pageview = String(900_000 + v);
      const base = { path: '/p/engaged', visitor_id: String(5000 + v), ip_prefix: networkOf(5000 + v), pageview_id: pageview };
      reports.push(row({ ...base, type: 'pageview' }));
      for (const [ms, depth] of [[1_000, 10], [2_000, 40], [30_000 + v * 1000, 90]] as const) {
        reports.push(row({ ...base, type: 'engagement', visible_ms: ms, scroll_depth: depth }));
      }
    }
    // In three inserts, as separate requests would arrive.
    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10 });
    for (let i = 0; i < 3; i++) await ins.add(reports.filter((_, j) => j % 3 === i), `engaged-${i}`);
    const [p] = await rows<{ pageviews: string; median_visible_ms: number; median_scroll_depth: number }>(
      `SELECT pageviews, median_visible_ms, median_scroll_depth FROM v_pages(${period}) WHERE page = '/p/engaged'`,
    );
    expect(Number(p!.pageviews)).toBe(5);
    expect(p!.median_visible_ms).toBe(32_000);
    expect(p!.median_scroll_depth).toBe(90);
    const depth = await rows<{ depth: number; views: string }>(`SELECT depth, views FROM v_scroll_depth(${period}, page = '/p/engaged')`);
    expect(depth.map((d) => [d.depth, Number(d.views)])).toEqual([[90, 5]]);
  });
});

describe('inserts', () => {
  const count = async (path: string) => Number((await rows<{ n: string }>(`SELECT count() n FROM events WHERE path = '${path}'`))[0]!.n);

  it('deduplicate a retried insert of the same job, and only that', async () => {
    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10 });
    const batch = [row({ path: '/dedup' }), row({ path: '/dedup' })];
    await ins.add(batch, 'job-1');
    await ins.add(batch, 'job-1'); // the same job again: a no-op in ClickHouse
    expect(await count('/dedup')).toBe(2);
    // Another job's rows must land: a token must never outlive its own insert.
    await ins.add([row({ path: '/dedup' })], 'job-2');
    await store.client.insert({ table: 'events', values: [row({ path: '/dedup' })], format: 'JSONEachRow' });
    expect(await count('/dedup')).toBe(4);
    // The aggregates count each row once as well: the retry above added nothing to any of them.
    const pageviews = Number((await rows<{ n: string }>("SELECT sum(pageviews) n FROM agg_pages_daily WHERE path = '/dedup'"))[0]!.n);
    expect(pageviews).toBe(4);
    const perPageview = Number((await rows<{ n: string }>("SELECT count() n FROM agg_visitor_pageviews WHERE path = '/dedup'"))[0]!.n);
    expect(perPageview).toBe(4);
  });

  it('through the embedded raw insert: the same rows, and a retried token is a no-op there too', async () => {
    expect(store.rawInsert).toBeTypeOf('function');
    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10, rawInsert: store.rawInsert });
    const r = row({ path: '/raw', custom_name: 'raw', custom_props: { a: 'b', quote: 'x"y\\z' } });
    await ins.add([r, row({ path: '/raw' })], 'raw-1');
    await ins.add([r, row({ path: '/raw' })], 'raw-1');
    expect(await count('/raw')).toBe(2);
    const stored = await rows<{ p: Record<string, string> }>("SELECT custom_props p FROM events WHERE path = '/raw' AND custom_name = 'raw'");
    expect(stored).toEqual([{ p: { a: 'b', quote: 'x"y\\z' } }]);
    await ins.add([row({ path: '/raw' })], 'raw-2');
    expect(await count('/raw')).toBe(3);
    // Rows ClickHouse refuses are an InsertError whose cause carries ClickHouse's code.
    const bad = { ...row({ path: '/raw' }), ts: 'not a time' };
    const err = await ins.add([bad], 'raw-bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsertError);
    expect(rowsRejected(err)).toBe(true);
  });

  it('write at once when every job the worker holds is waiting on them', async () => {
    // flushMs is out of reach: only the all-waiting rule can write these rows.
    const ins = new EventInserter(store.client, { batchRows: 1_000_000, flushMs: 3_600_000, maxWaiting: 3 });
    const first = ins.add([row({ path: '/all-waiting' })], 'aw-1');
    const second = ins.add([row({ path: '/all-waiting' })], 'aw-2');
    const early = await Promise.race([first.then(() => 'written'), new Promise((r) => setTimeout(() => r('still buffered'), 1500))]);
    expect(early).toBe('still buffered'); // two of three slots waiting: the third may still bring rows
    const third = ins.add([row({ path: '/all-waiting' })], 'aw-3');
    const all = Promise.all([first, second, third]).then(() => 'written');
    expect(await Promise.race([all, new Promise((r) => setTimeout(() => r('timed out'), 10_000))])).toBe('written');
    expect(await count('/all-waiting')).toBe(3);
  });

  it('find already stored event ids, including ids above 2^53', async () => {
    const big = row({ path: '/ids', event_id: '18446744073709551615' });
    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10 });
    await ins.add([big], 'ids');
    const found = await existingEventIds(store.client, 'shop', ['18446744073709551615', '9007199254740993', big.pageview_id]);
    expect([...found]).toEqual(['18446744073709551615']);
    expect(await existingEventIds(store.client, 'other-site', ['18446744073709551615'])).toEqual(new Set());
  });
});

describe('retention', () => {
  it('follows RETENTION_DAYS and expires old rows', async () => {
    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10 });
    await ins.add([row({ path: '/old', ts: formatTs(Date.now() - 10 * 86_400_000) })], 'old');
    expect(Number((await rows<{ n: string }>("SELECT count() n FROM events WHERE path = '/old'"))[0]!.n)).toBe(1);
    // A lower retention applies at once (the next start): no merge needs to happen first.
    await applyRetention(store.client, { ...vars, RETENTION_DAYS: 5 });
    const [t] = await rows<{ q: string }>("SELECT create_table_query q FROM system.tables WHERE name = 'events' AND database = currentDatabase()");
    expect(t!.q).toContain('toIntervalDay(5)');
    expect(Number((await rows<{ n: string }>("SELECT count() n FROM events WHERE path = '/old'"))[0]!.n)).toBe(0);
    expect(Number((await rows<{ n: string }>("SELECT count() n FROM events WHERE path = '/p/a'"))[0]!.n)).toBeGreaterThan(0);
    await applyRetention(store.client, vars);
  });

  it('follows AGGREGATE_RETENTION_MONTHS on every aggregate, and covers every table that has a TTL', async () => {
    const ttlTables = await rows<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = currentDatabase() AND create_table_query LIKE '% TTL %' ORDER BY name",
    );
    expect(ttlTables.map((t) => t.name).sort()).toEqual(retentionTtls(vars).map((t) => t.table).sort());

    const ins = new EventInserter(store.client, { batchRows: 1000, flushMs: 10 });
    const threeMonthsAgo = formatTs(Date.now() - 95 * 86_400_000);
    await ins.add([row({ path: '/old-agg', ts: threeMonthsAgo }), row({ path: '/new-agg' })], 'agg-retention');
    const aggRows = async (path: string) => Number((await rows<{ n: string }>(`SELECT count() n FROM agg_pages_daily WHERE path = '${path}'`))[0]!.n);
    expect(await aggRows('/old-agg')).toBe(1);

    await applyRetention(store.client, { ...vars, AGGREGATE_RETENTION_MONTHS: 2 });
    const [t] = await rows<{ q: string }>("SELECT create_table_query q FROM system.tables WHERE name = 'agg_click_cells' AND database = currentDatabase()");
    expect(t!.q).toContain('toIntervalMonth(2)');
    expect(await aggRows('/old-agg')).toBe(0);
    expect(await aggRows('/new-agg')).toBe(1);
    await applyRetention(store.client, vars);
    const [back] = await rows<{ q: string }>("SELECT create_table_query q FROM system.tables WHERE name = 'agg_pages_daily' AND database = currentDatabase()");
    expect(back!.q).toContain('toIntervalMonth(25)');
  });
});

describe('network identities', () => {
  it('are kept NETWORK_DAYS after their day only, in every column that holds them', async () => {
    const ddl = Object.fromEntries(
      (await rows<{ name: string; q: string }>('SELECT name, create_table_query AS q FROM system.tables WHERE database = currentDatabase()')).map((t) => [t.name, t.q]),
    );
    expect(NETWORK_DAYS).toBe(3);
    for (const [table, column] of NETWORK_COLUMNS) {
      const def = new RegExp(`\`${column}\` [^\`]*TTL day \\+ toIntervalDay\\(${NETWORK_DAYS}\\)`);
      expect(ddl[table], `${table}.${column}`).toMatch(def);
    }
  });
});

describe('daily rollups keep every analyst answer for the aggregate retention', () => {
  it('answers for a day 200 days ago after its raw events and intermediate rows expired', async () => {
    const DAY_MS = 86_400_000;
    const d = new Date(Date.now() - 200 * DAY_MS);
    const day = d.toISOString().slice(0, 10);
    const at = (h: number, m: number) => formatTs(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), h, m));
    const oldPeriod = `site='shop', date_from='${day}', date_to='${day}'`;
    // Keep the old rows while they are rolled up (a 180-day TTL could drop them at any merge), and their networks
    // (kept NETWORK_DAYS after their day, which a day 200 days old is long past).
    await applyRetention(store.client, { ...vars, RETENTION_DAYS: 400 });
    await applyColumnRetention(store.client, vars, undefined, 400);
    // And their prefixes in `events`, which the aggregation reads after the insert (a column TTL clears them two
    // days after ts: schemas/008), as the insert-time views once read them from the inserted block.
    await store.client.command({ query: 'ALTER TABLE events MODIFY COLUMN ip_prefix TTL toDateTime(ts) + INTERVAL 400 DAY SETTINGS materialize_ttl_after_modify = 0' });
    const seed: EventRow[] = [
      // 6 visitors: /old/a (10–15 s visible, 50 % scroll), then /old/b.
      ...perVisitor(6, 7000, () => ({ path: '/old/a', ts: at(10, 0) })),
      ...perVisitor(6, 7000, (_v, i) => ({ path: '/old/a', ts: at(10, 1), type: 'engagement', visible_ms: 10_000 + i * 1000, scroll_depth: 55 })),
      ...perVisitor(6, 7000, () => ({ path: '/old/b', ts: at(10, 5) })),
      // 5 visitors see /old/a only (bounces), 20 s visible.
      ...perVisitor(5, 7100, () => ({ path: '/old/a', ts: at(11, 0) })),
      ...perVisitor(5, 7100, () => ({ path: '/old/a', ts: at(11, 1), type: 'engagement', visible_ms: 20_000, scroll_depth: 5 })),
      // 3 visitors (below k) go /old/a → /old/c: never shown.
      ...perVisitor(3, 7200, () => ({ path: '/old/a', ts: at(12, 0) })),
      ...perVisitor(3, 7200, () => ({ path: '/old/c', ts: at(12, 1) })),
    ];
    await new EventInserter(store.client, { batchRows: 1000, flushMs: 10 }).add(seed, 'rollup-old-day');
    await aggregateNow(store.client);
    await store.client.command({ query: 'ALTER TABLE events MODIFY COLUMN ip_prefix TTL toDateTime(ts) + INTERVAL 2 DAY SETTINGS materialize_ttl_after_modify = 0' });

    const answers = async () => ({
      summary: (await rows<Record<string, unknown>>(`SELECT pageviews, visitors, visitor_days, bounces, bounce_rate FROM v_summary(${oldPeriod})`)).map(norm),
      pages: (await rows<Record<string, unknown>>(`SELECT * FROM v_pages(${oldPeriod})`)).map(norm),
      scroll: (await rows<Record<string, unknown>>(`SELECT * FROM v_scroll_depth(${oldPeriod}, page = '/old/a')`)).map(norm),
      entryExit: (await rows<Record<string, unknown>>(`SELECT * FROM v_entry_exit(${oldPeriod})`)).map(norm),
      transitions: (await rows<Record<string, unknown>>(`SELECT * FROM v_transitions(${oldPeriod})`)).map(norm),
    });
    const norm = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]));
    const expected = {
      // /old/c (3 visitors) is hidden: its 3 page views are in no figure.
      summary: [{ pageviews: 20, visitors: 14, visitor_days: 14, bounces: 5, bounce_rate: 0.357 }],
      pages: [
        { page: '/old/a', pageviews: 14, visitors: 14, median_visible_ms: 15_000, p75_visible_ms: 20_000, median_scroll_depth: 55, p75_scroll_depth: 55 },
        { page: '/old/b', pageviews: 6, visitors: 6, median_visible_ms: 0, p75_visible_ms: 0, median_scroll_depth: 0, p75_scroll_depth: 0 },
      ],
      scroll: [{ depth: 0, views: 5, visitors: 5 }, { depth: 50, views: 6, visitors: 6 }],
      entryExit: [
        { page: '/old/a', entries: 14, exits: 5, bounces: 5, visitors: 14 },
        { page: '/old/b', entries: 0, exits: 6, bounces: 0, visitors: 6 },
      ],
      transitions: [{ from_page: '/old/a', to_page: '/old/b', transitions: 6, visitors: 6 }],
    };
    // From the intermediate tables (not rolled up yet).
    const before = await answers();
    expect(before).toEqual(expected);
    expect(await rows(`SELECT day FROM rollup_days WHERE day = '${day}'`)).toEqual([]);

    const rolled = await rollupFinishedDays(store.client, new Date());
    expect(rolled).toContain(day);
    expect(rolled).not.toContain(today); // today and yesterday are not finished
    expect(await rollupFinishedDays(store.client, new Date())).toEqual([]);
    expect(await answers()).toEqual(expected);

    // A rollup repeated for the same day (a crash before rollup_days was written) replaces, never adds.
    for (const query of Object.values(ROLLUP_SQL)) await store.client.command({ query, query_params: { day } });
    expect(await answers()).toEqual(expected);

    // The raw retention passes: events and the intermediate tables lose the day.
    await applyRetention(store.client, vars);
    for (const t of ['events', 'agg_visitor_days', 'agg_pageview_engagement', 'agg_visitor_pageviews']) {
      await store.client.command({ query: `ALTER TABLE ${t} MATERIALIZE TTL SETTINGS mutations_sync = 2` });
      const col = t === 'events' ? 'toDate(ts)' : 'day';
      expect(Number((await rows<{ n: string }>(`SELECT count() n FROM ${t} WHERE ${col} = '${day}'`))[0]!.n), t).toBe(0);
    }
    // The network states of the insert-time aggregates are gone after NETWORK_DAYS (applyRetention puts the
    // column TTL back and materialises it); the counts the rollup stored keep the day's groups released.
    const states = await rows<{ n: number }>(`SELECT uniqCombinedMerge(12)(networks) AS n FROM agg_pages_daily WHERE day = '${day}'`);
    expect(Number(states[0]!.n)).toBe(0);
    expect(await answers()).toEqual(expected);
    // Today's (not rolled-up) answers still come from the intermediate tables.
    const [s] = await rows<{ pageviews: string; bounce_rate: number }>(`SELECT * FROM v_summary(${period})`);
    expect(Number(s!.pageviews)).toBeGreaterThanOrEqual(6);
  });

  it('no analyst view reads the events table', async () => {
    const views = await rows<{ name: string; q: string }>(
      "SELECT name, create_table_query q FROM system.tables WHERE database = currentDatabase() AND name LIKE 'v\\_%'",
    );
    expect(views.length).toBeGreaterThanOrEqual(12);
    for (const v of views) expect(v.q, v.name).not.toMatch(/\b(?:FROM|JOIN)\s+(?:`?\w+`?\.)?`?events`?(?:\s|$|\))/i);
  });
});
