/**
 * The aggregates, filled from `events` in the background, exactly once.
 *
 * Design note (issue 15; schemas/040 and 041 hold the tables):
 * - The insert writes `events` only. Every row of `events` keeps the number of
 *   the insert block that wrote it (`_block_number`, enable_block_number_column).
 *   On a non-replicated MergeTree a block number is taken and its part made
 *   visible under one lock, so once block N is visible every block below it is
 *   too: "every block <= N" is a watermark that later inserts never fall under.
 * - A run takes the next range (lo, hi] (lo: the last range's end; hi: the
 *   newest block visible now) and records it as planned in `agg_runs` before it
 *   writes anything. It copies the range's rows into `agg_staging` (each event
 *   id once: an id that a range ending at or before lo already counted is left
 *   out, `agg_event_ids`, and so is a second copy inside the range), records
 *   'staged' with the row count, runs each aggregate's INSERT … SELECT
 *   (schemas/aggregates.sql) over the staging table with an
 *   insert_deduplication_token of (table, lo, hi), records the range's ids in
 *   `agg_event_ids`, and records 'done'.
 * - A crash anywhere leaves the latest range not 'done'; the next run redoes
 *   that range first: from the copy when it was staged (its row count checks
 *   it is whole), else from `events`; the tokens make an aggregate already
 *   written a no-op (the agg tables keep a window of 1000 tokens, schemas/004).
 *   The staging copy is what makes the redo see the same rows: `events` is a
 *   ReplacingMergeTree and a merge may drop a row in favour of a later copy.
 * - Token deduplication of INSERT … SELECT holds only when the SELECT gives the
 *   same blocks each time: measured on chDB 26.7, a GROUP BY run with more
 *   threads than cores was inserted twice under one token; with max_threads = 1
 *   it is deterministic. So each aggregate runs single-threaded (the runs are
 *   small and off the insert path).
 * - One aggregator per store: in embedded mode the worker process (the only
 *   writer) on a timer and once more at a clean stop; on a ClickHouse server a
 *   housekeeping job under a Redis lease whose fence is checked before every
 *   step (a stale holder's one step in flight is deduplicated by its token).
 *   Not on a cluster: see docs/scaling.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { SCHEMA_DIR, splitStatements } from './migrate.js';

/** One aggregate: its table and its `INSERT INTO <table> (…) SELECT … FROM agg_staging …`. */
export interface AggregateStatement {
  table: string;
  sql: string;
}

/** The statements of schemas/aggregates.sql, in file order. */
export function loadAggregates(dir = SCHEMA_DIR): AggregateStatement[] {
  return splitStatements(fs.readFileSync(path.join(dir, 'aggregates.sql'), 'utf8')).map((sql) => {
    const m = /^INSERT\s+INTO\s+(agg_\w+)\s*\(([^)]*)\)\s+(SELECT\b[\s\S]*\bFROM\s+agg_staging\b[\s\S]*)$/i.exec(sql);
    if (!m) throw new Error(`schemas/aggregates.sql: expected INSERT INTO agg_<name> (columns) SELECT … FROM agg_staging …, got: ${sql.slice(0, 120)}`);
    return { table: m[1]!, sql };
  });
}

export interface AggregateRun {
  lo: number;
  hi: number;
  /** Rows aggregated (after leaving out ids already counted). */
  rows: number;
  /** A range left unfinished by an earlier run, redone. */
  redone: boolean;
  ms: number;
}

/** The steps of a run, in order; `check` is called before each (a lease's fence; a test's crash). */
export type AggregationStep = 'look' | 'plan' | 'stage' | 'staged' | `table:${string}` | 'ids' | 'done';

export interface AggregateOptions {
  /** Called before every step; throws to stop there (a lost housekeeping lease). */
  check?: (step: AggregationStep) => Promise<void>;
  /** How often agg_runs is pruned (default: hourly; see pruneRuns). */
  pruneRunsEveryMs?: number;
}

const STEP = { planned: 1, staged: 2, done: 3 } as const;

interface RangeState {
  lo: number;
  hi: number;
  step: number;
  rows: number;
  maxTs: string;
}

/**
 * Aggregates every block of `events` visible now, range by range, and returns
 * the ranges it ran (none when the aggregates were already complete, or when
 * this store has no aggregation state: a cluster, or not migrated).
 */
export async function aggregateNow(client: ClickHouseClient, opts: AggregateOptions = {}): Promise<AggregateRun[]> {
  const runs: AggregateRun[] = [];
  const aggregates = loadAggregates();
  // Bounded: a range is everything visible when it is planned, so two ranges catch up with any backlog.
  for (let i = 0; i < 3; i++) {
    const run = await runOnce(client, aggregates, opts.check ?? (async () => {}), opts.pruneRunsEveryMs ?? PRUNE_RUNS_EVERY_MS);
    if (!run) break;
    runs.push(run);
  }
  return runs;
}

async function runOnce(
  client: ClickHouseClient,
  aggregates: AggregateStatement[],
  check: (step: AggregationStep) => Promise<void>,
  pruneEveryMs: number,
): Promise<AggregateRun | undefined> {
  const t0 = Date.now();
  await check('look');
  const last = await latestRange(client);
  if (!last) return undefined;
  let range = last;
  const redone = last.step !== STEP.done;
  if (!redone) {
    const top = await newestBlock(client);
    if (top <= last.hi) return undefined;
    range = { lo: last.hi, hi: top, step: STEP.planned, rows: 0, maxTs: last.maxTs };
    await check('plan');
    await record(client, range, 'planned');
  }
  const { lo, hi } = range;
  if (range.step < STEP.staged || (await stagedRows(client)) !== range.rows) {
    await check('stage');
    range.rows = await stage(client, lo, hi);
    await check('staged');
    await record(client, range, 'staged');
  }
  const settings = await insertSelectSettings(client);
  for (const a of aggregates) {
    await check(`table:${a.table}`);
    // The token names the table and the range: a redo of the range writes nothing a first attempt wrote.
    const token = `aggregate:${a.table}:${lo}:${hi}`;
    await client.command({ query: withSettings(a.sql, `insert_deduplication_token = '${token}', ${settings}`) });
  }
  await check('ids');
  // min() over first_range: recording the same ids again (a redo) changes nothing.
  await client.command({
    query: 'INSERT INTO agg_event_ids (site, day, event_id, first_range) SELECT site, toDate(ts) AS day, event_id, {hi:UInt64} FROM agg_staging',
    query_params: { hi },
  });
  await check('done');
  const rs = await client.query({ query: 'SELECT toString(max(ts)) AS m, count() AS n FROM agg_staging', format: 'JSONEachRow' });
  const newest = (await rs.json<{ m: string; n: string }>())[0]!;
  if (Number(newest.n) > 0 && newest.m > range.maxTs) range.maxTs = newest.m;
  await record(client, range, 'done');
  await pruneRuns(client, lo, pruneEveryMs);
  // The copy holds event rows (prefixes, visitor hashes) with none of events' TTLs: it is kept only while needed.
  await client.command({ query: 'TRUNCATE TABLE agg_staging' });
  return { lo, hi, rows: range.rows, redone, ms: Date.now() - t0 };
}

/** The latest range of agg_runs and how far it got; undefined when the table is missing or empty. */
async function latestRange(client: ClickHouseClient): Promise<RangeState | undefined> {
  const exists = await client.query({
    query: "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'agg_runs'",
    format: 'JSONEachRow',
  });
  if (Number((await exists.json<{ n: string }>())[0]?.n ?? 0) === 0) return undefined;
  // Block numbers and counts are UInt64, which JSON quotes: read as strings, turned into numbers (exact below 2^53).
  const rs = await client.query({
    // No alias may shadow lo or hi: ORDER BY would sort the strings ('9' after '10').
    query: `SELECT lo AS range_lo, hi AS range_hi, max(toUInt8(step)) AS step, max(staged_rows) AS rows, toString(max(max_ts)) AS max_ts
            FROM agg_runs GROUP BY lo, hi ORDER BY hi DESC, lo DESC LIMIT 1`,
    format: 'JSONEachRow',
  });
  const r = (await rs.json<{ range_lo: string; range_hi: string; step: number; rows: string; max_ts: string }>())[0];
  if (!r) return undefined;
  return { lo: Number(r.range_lo), hi: Number(r.range_hi), step: Number(r.step), rows: Number(r.rows), maxTs: r.max_ts };
}

/** The newest block number of `events` visible now (every block below it is visible too). */
async function newestBlock(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({
    query: "SELECT toString(max(max_block_number)) AS n FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active",
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]?.n ?? 0);
}

async function record(client: ClickHouseClient, r: RangeState, step: keyof typeof STEP): Promise<void> {
  await client.command({
    query: `INSERT INTO agg_runs (lo, hi, step, staged_rows, max_ts) VALUES ({lo:UInt64}, {hi:UInt64}, {step:String}, {rows:UInt64}, {max_ts:DateTime64(3, 'UTC')})`,
    query_params: { lo: r.lo, hi: r.hi, step, rows: r.rows, max_ts: r.maxTs },
  });
}

/** How often agg_runs is pruned: a run every AGGREGATE_EVERY_MS adds three rows, about 26,000 a day at 10 s. */
const PRUNE_RUNS_EVERY_MS = 3_600_000;
const prunedAt = new WeakMap<ClickHouseClient, number>();

/**
 * Deletes the ranges that end at or before `lo` (the start of the range just done): every one of them is done,
 * since a range is planned only once the one before it is. The latest range stays: it is the watermark, and it
 * carries the newest event time forward (v_freshness). Without this, agg_runs grew by a row per step forever
 * and every run's look at the latest range read all of it.
 */
async function pruneRuns(client: ClickHouseClient, lo: number, everyMs: number): Promise<void> {
  const now = Date.now();
  if (now - (prunedAt.get(client) ?? 0) < everyMs) return;
  prunedAt.set(client, now);
  // Bookkeeping only: a prune that fails (a server user without the DELETE grant) leaves rows for the next one and
  // does not fail the run, which is done.
  await client.command({ query: 'DELETE FROM agg_runs WHERE hi <= {lo:UInt64}', query_params: { lo } }).catch(() => {});
}

async function stagedRows(client: ClickHouseClient): Promise<number> {
  try {
    const rs = await client.query({ query: 'SELECT count() AS n FROM agg_staging', format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0]?.n ?? -1);
  } catch {
    return -1;
  }
}

/**
 * Copies the rows of blocks (lo, hi] into a fresh agg_staging, each (site, event_id) once and none that an
 * earlier range counted. The table is made again each time from `events`' current columns, so a migration
 * that adds a column needs nothing here. Returns the rows copied.
 */
async function stage(client: ClickHouseClient, lo: number, hi: number): Promise<number> {
  await client.command({ query: 'DROP TABLE IF EXISTS agg_staging' });
  await client.command({ query: 'CREATE TABLE agg_staging ENGINE = MergeTree ORDER BY tuple() EMPTY AS SELECT * FROM events' });
  await client.command({
    query: `INSERT INTO agg_staging
            SELECT * FROM events
            WHERE _block_number > {lo:UInt64} AND _block_number <= {hi:UInt64}
              AND (site, event_id) NOT IN (
                  SELECT site, event_id FROM agg_event_ids
                  WHERE first_range <= {lo:UInt64}
                    AND (site, event_id) IN (SELECT site, event_id FROM events WHERE _block_number > {lo:UInt64} AND _block_number <= {hi:UInt64}))
            LIMIT 1 BY site, event_id`,
    query_params: { lo, hi },
  });
  return stagedRows(client);
}

let dedupSetting: Promise<string> | undefined;

/**
 * Single-threaded (see the design note), and on servers that have the setting, token deduplication of
 * INSERT … SELECT kept on whatever ClickHouse thinks of the SELECT's stability (its default would silently
 * turn it off for a SELECT it deems unstable, and a redo would then count twice).
 */
async function insertSelectSettings(client: ClickHouseClient): Promise<string> {
  dedupSetting ??= client
    .query({ query: "SELECT count() AS n FROM system.settings WHERE name = 'deduplicate_insert_select'", format: 'JSONEachRow' })
    .then((rs) => rs.json<{ n: string }>())
    .then((r) => (Number(r[0]?.n) > 0 ? ", deduplicate_insert_select = 'enable_even_for_bad_queries'" : ''));
  return `max_threads = 1, insert_deduplicate = 1${await dedupSetting}`;
}

/** `INSERT INTO t (cols) SELECT …` → `INSERT INTO t (cols) SETTINGS … SELECT …` (settings in the statement: chDB keeps per-call settings on its session). */
function withSettings(sql: string, settings: string): string {
  return sql.replace(/\)\s+SELECT\b/i, `) SETTINGS ${settings} SELECT`);
}

/** The aggregation's freshness: the newest event time aggregated, and when the last range was done. */
export async function freshness(client: ClickHouseClient): Promise<{ dataUpTo: string; aggregatedAt: string } | undefined> {
  const rs = await client.query({ query: 'SELECT toString(data_up_to) AS d, toString(aggregated_at) AS a FROM v_freshness', format: 'JSONEachRow' });
  const r = (await rs.json<{ d: string; a: string }>())[0];
  return r ? { dataUpTo: r.d, aggregatedAt: r.a } : undefined;
}

export interface AggregationSchedule {
  /** Runs now (after any run in progress) and resolves when it is done. */
  runNow(): Promise<AggregateRun[]>;
  /**
   * Stops the timer and runs once more, so a clean stop leaves the aggregates complete; a run still going at
   * `deadline` (ms since epoch) stops at its next step, and the next start redoes its range (the drain must end
   * within the shutdown grace period, and a range redone is counted once).
   */
  stop(deadline?: number): Promise<void>;
}

/**
 * Embedded mode: the worker (the store's only writer) aggregates every `everyMs`, one run at a time, and once
 * more when it stops, after its last insert.
 */
export function scheduleAggregation(
  client: ClickHouseClient,
  opts: { everyMs: number; onRun?: (runs: AggregateRun[]) => void; onError: (err: Error) => void },
): AggregationSchedule {
  let chain: Promise<unknown> = Promise.resolve();
  let stopped = false;
  let deadline = Infinity;
  const check = async () => {
    if (Date.now() > deadline) throw new Error('aggregation cut short: the process is stopping (the next start redoes the range)');
  };
  const runNow = () => {
    const next = chain.then(() => aggregateNow(client, { check }));
    chain = next.then(
      (runs) => opts.onRun?.(runs),
      (err: Error) => opts.onError(err),
    );
    return next;
  };
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = undefined;
    void runNow()
      .catch(() => {})
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(tick, opts.everyMs);
          timer.unref();
        }
      });
  };
  timer = setTimeout(tick, opts.everyMs);
  timer.unref();
  return {
    runNow,
    async stop(at = Infinity) {
      stopped = true;
      deadline = at;
      if (timer) clearTimeout(timer);
      await runNow().catch(() => {});
    },
  };
}
