/**
 * Attacks on the aggregation's promise (src/store/aggregator.ts): whatever
 * stops a run, whatever arrives twice, the aggregates count every stored event
 * id exactly once. On the real embedded ClickHouse, a fresh data directory.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { row } from '../../test/support/rows.js';
import { tempDir } from '../../test/support/tmp.js';
import { openStore, type Store } from './client.js';
import { EventInserter } from './inserter.js';
import { aggregateNow, freshness, loadAggregates, type AggregationStep } from './aggregator.js';
import { migrate } from './migrate.js';

const dir = tempDir('aggregator');
let store: Store;
let ins: EventInserter;

async function one<T>(sql: string): Promise<T> {
  const rs = await store.client.query({ query: sql, format: 'JSONEachRow' });
  return (await rs.json<T>())[0]!;
}

/** Per path: events stored (distinct ids), and what three aggregates say (page views + engagements, clicks, visitor-day page views). */
async function tally(path: string) {
  const r = await one<Record<string, string>>(`SELECT
      (SELECT uniqExact(event_id) FROM events WHERE path = '${path}') AS distinct_ids,
      (SELECT sum(pageviews) + sum(engagements) FROM agg_pages_daily WHERE path = '${path}') AS pages,
      (SELECT sum(clicks) FROM agg_click_cells WHERE path = '${path}') AS clicks,
      (SELECT count() FROM agg_visitor_steps WHERE value = '${path}') AS steps`);
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
}

/** A run that stops before `step`, as a crash or a lost lease would. */
const stopBefore = (step: AggregationStep) => ({
  check: async (s: AggregationStep) => {
    if (s === step) throw new Error(`stopped before ${s}`);
  },
});

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  ins = new EventInserter(store.client, { batchRows: 100_000, flushMs: 10 });
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the aggregation', () => {
  it('has one statement per aggregate table, each reading the staging copy', () => {
    const tables = loadAggregates().map((a) => a.table);
    expect(new Set(tables).size).toBe(tables.length);
    expect(tables).toEqual(expect.arrayContaining(['agg_pages_daily', 'agg_click_cells', 'agg_visitor_days', 'agg_visitor_pageviews', 'agg_heatmap_cells']));
  });

  it('leaves the insert path alone: no materialised view reads events', async () => {
    const r = await one<{ n: string }>("SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'");
    expect(Number(r.n)).toBe(0);
    await ins.add([row({ path: '/lag' })], 'lag-1');
    expect(await tally('/lag')).toEqual({ distinct_ids: 1, pages: 0, clicks: 0, steps: 0 });
    const runs = await aggregateNow(store.client);
    expect(runs.length).toBe(1);
    expect(await tally('/lag')).toEqual({ distinct_ids: 1, pages: 1, clicks: 0, steps: 1 });
    expect(await aggregateNow(store.client)).toEqual([]);
  });

  const steps: AggregationStep[] = ['plan', 'stage', 'staged', 'table:agg_pages_daily', 'table:agg_click_cells', 'table:agg_visitor_steps', 'ids', 'done'];
  it.each(steps)('counts a range once when a run stops before %s and the next one redoes it', async (step) => {
    const path = `/crash-${step.replace(/\W/g, '-')}`;
    await ins.add([row({ path }), row({ path }), row({ path, type: 'click', page_x: 10, page_y: 10 }), row({ path, type: 'engagement' })], `crash-${step}`);
    await expect(aggregateNow(store.client, stopBefore(step))).rejects.toThrow(`stopped before ${step}`);
    // A second stop at the same step of the redo (a crash loop) changes nothing either.
    if (step !== 'plan') await expect(aggregateNow(store.client, stopBefore(step))).rejects.toThrow(`stopped before ${step}`);
    const runs = await aggregateNow(store.client);
    expect(runs.length).toBe(1);
    expect(runs[0]!.redone).toBe(step !== 'plan');
    expect(await tally(path)).toEqual({ distinct_ids: 4, pages: 3, clicks: 1, steps: 2 });
  });

  it('counts a range once when every aggregate was written and only the record of it was lost', async () => {
    const path = '/all-written';
    await ins.add([row({ path }), row({ path })], 'all-written');
    await expect(aggregateNow(store.client, stopBefore('done'))).rejects.toThrow();
    expect((await tally(path)).pages).toBe(2); // written, not recorded as done
    await aggregateNow(store.client);
    await aggregateNow(store.client);
    expect(await tally(path)).toEqual({ distinct_ids: 2, pages: 2, clicks: 0, steps: 2 });
  });

  it('counts a redelivered job once: the retried insert is deduplicated, a re-insert under a new token is left out', async () => {
    const path = '/redelivered';
    const rows = [row({ path }), row({ path }), row({ path })];
    await ins.add(rows, 'job-7');
    await aggregateNow(store.client);
    // The same job again (its token: the retried insert adds nothing to events) ...
    await ins.add(rows, 'job-7');
    // ... and its rows under another token (an insert that did not know the first had landed): new blocks, same ids.
    await ins.add(rows, 'job-7-again');
    await aggregateNow(store.client);
    expect(await tally(path)).toEqual({ distinct_ids: 3, pages: 3, clicks: 0, steps: 3 });
  });

  it('counts an event id re-sent in a different job once, in the same range or a later one, even after a merge keeps the later copy', async () => {
    const path = '/re-sent';
    const first = row({ path });
    // Two jobs carrying the same event id in one range (the second a replay of the first event).
    await ins.add([first, row({ path })], 'job-a');
    await ins.add([{ ...first }], 'job-b');
    await aggregateNow(store.client);
    expect(await tally(path)).toEqual({ distinct_ids: 2, pages: 2, clicks: 0, steps: 2 });
    // The same id once more, in a later range; then a merge collapses the copies and keeps the newest row
    // (ReplacingMergeTree without a version keeps the last inserted): the id was counted, it stays counted once.
    await ins.add([{ ...first }], 'job-c');
    await store.client.command({ query: 'OPTIMIZE TABLE events FINAL' });
    await aggregateNow(store.client);
    expect(await tally(path)).toEqual({ distinct_ids: 2, pages: 2, clicks: 0, steps: 2 });
  });

  it('keeps only the latest range in agg_runs once pruned, and goes on counting each event once', async () => {
    for (const i of [1, 2, 3]) {
      await ins.add([row({ path: '/pruned' })], `pruned-${i}`);
      await aggregateNow(store.client, { pruneRunsEveryMs: 3_600_000 });
    }
    const before = await one<{ ranges: string; top: string; up: string }>("SELECT uniqExact(lo, hi) AS ranges, max(hi) AS top, toString(max(max_ts)) AS up FROM agg_runs WHERE step = 'done'");
    expect(Number(before.ranges)).toBeGreaterThan(1);
    // A run that stops before done leaves its range planned; the next run redoes it and then prunes.
    await ins.add([row({ path: '/pruned' }), row({ path: '/pruned', type: 'engagement' })], 'pruned-4');
    await expect(aggregateNow(store.client, { ...stopBefore('done'), pruneRunsEveryMs: 0 })).rejects.toThrow();
    await aggregateNow(store.client, { pruneRunsEveryMs: 0 });
    const after = await one<{ ranges: string; top: string; up: string }>('SELECT uniqExact(lo, hi) AS ranges, max(hi) AS top, toString(max(max_ts)) AS up FROM agg_runs');
    expect(Number(after.ranges)).toBe(1);
    expect(Number(after.top)).toBeGreaterThan(Number(before.top));
    expect(after.up >= before.up).toBe(true);
    expect(await tally('/pruned')).toEqual({ distinct_ids: 5, pages: 5, clicks: 0, steps: 4 });
    // The watermark survives the prune: nothing new, nothing run; a new event is counted once.
    expect(await aggregateNow(store.client, { pruneRunsEveryMs: 0 })).toEqual([]);
    await ins.add([row({ path: '/pruned' })], 'pruned-5');
    expect((await aggregateNow(store.client, { pruneRunsEveryMs: 0 })).length).toBe(1);
    expect(await tally('/pruned')).toEqual({ distinct_ids: 6, pages: 6, clicks: 0, steps: 5 });
  });

  it('says how fresh the aggregates are', async () => {
    const ts = '2026-01-02 03:04:05.678';
    await ins.add([row({ path: '/fresh', ts })], 'fresh');
    await aggregateNow(store.client);
    const f = await freshness(store.client);
    expect(f!.dataUpTo >= ts).toBe(true);
    expect(new Date(`${f!.aggregatedAt.replace(' ', 'T')}Z`).getTime()).toBeGreaterThan(Date.now() - 600_000);
  });
});
