/**
 * Rebuilding the insert-time aggregates of recent days from `events`.
 *
 * Why: ClickHouse writes an insert's `events` part and its materialised
 * views' parts one after another, not atomically. When the embedded engine
 * dies with its worker in the middle of an insert, the rows can be in
 * `events` and missing from some `agg_*` tables; the redelivered jobs then
 * find their event ids stored and skip them (docs/operations.md). `events` is
 * the record; the aggregates are derived from it, so after an unclean stop the
 * worker recomputes the recent days of every materialised view's table from
 * `events FINAL`, before it takes any job (it is the only writer then).
 *
 * Each view's own SELECT (as ClickHouse stores it) is run over
 * `events FINAL` restricted to those days: the aggregates come out exactly as
 * if every event had been inserted once.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';

export interface RepairedTable {
  view: string;
  table: string;
}

/** The materialised views that read `events`, with their target tables and SELECTs. */
async function eventViews(client: ClickHouseClient): Promise<{ view: string; table: string; select: string }[]> {
  const rs = await client.query({
    query: "SELECT name, create_table_query, as_select FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name",
    format: 'JSONEachRow',
  });
  const out: { view: string; table: string; select: string }[] = [];
  for (const v of await rs.json<{ name: string; create_table_query: string; as_select: string }>()) {
    const table = /\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?/i.exec(v.create_table_query)?.[1];
    if (!table || !SOURCE.test(v.as_select)) continue;
    out.push({ view: v.name, table, select: v.as_select });
  }
  return out;
}

const SOURCE = /\bFROM\s+(?:`?\w+`?\.)?`?events`?(?=\s|$)/i;

/**
 * Recomputes, for every day >= `fromDay` (YYYY-MM-DD), each materialised
 * view's table from `events FINAL`. Returns what it rebuilt.
 */
export async function rebuildAggregatesSince(client: ClickHouseClient, fromDay: string): Promise<RepairedTable[]> {
  const done: RepairedTable[] = [];
  for (const v of await eventViews(client)) {
    const select = v.select.replace(SOURCE, 'FROM (SELECT * FROM events FINAL WHERE toDate(ts) >= {from:Date}) AS events');
    const cols = await client.query({ query: `DESCRIBE (${select})`, query_params: { from: fromDay }, format: 'JSONEachRow' });
    const names = (await cols.json<{ name: string }>()).map((c) => `\`${c.name}\``);
    await client.command({ query: `ALTER TABLE ${v.table} DELETE WHERE day >= {from:Date} SETTINGS mutations_sync = 2`, query_params: { from: fromDay } });
    // No deduplication: a rebuild repeated over unchanged days produces the same blocks, which the tables'
    // deduplication window (004) would otherwise drop right after the DELETE.
    await client.command({
      query: `INSERT INTO ${v.table} (${names.join(', ')}) SETTINGS insert_deduplicate = 0 ${select}`,
      query_params: { from: fromDay },
    });
    done.push({ view: v.view, table: v.table });
  }
  return done;
}

/** Left by a worker that closed cleanly, in the embedded data directory it owns. */
const CLEAN_STOP_MARKER = 'worker-stopped-cleanly';

/**
 * At the start of the embedded store's only writer: when the last stop left
 * no marker (a crash, a kill) and `events` holds rows, rebuilds the
 * aggregates of `fromDay` onwards. The marker is consumed either way; the
 * caller puts it back with recordCleanStop once every insert has settled.
 * Returns what was rebuilt, or undefined when nothing needed it.
 */
export async function repairAfterUncleanStop(client: ClickHouseClient, dataPath: string, fromDay: string): Promise<RepairedTable[] | undefined> {
  const marker = path.join(dataPath, CLEAN_STOP_MARKER);
  const clean = fs.existsSync(marker);
  fs.rmSync(marker, { force: true });
  // Nothing to rebuild in a fresh store, or one not migrated yet (MIGRATE_ON_START=false).
  if (clean || !(await hasEvents(client))) return undefined;
  return rebuildAggregatesSince(client, fromDay);
}

export function recordCleanStop(dataPath: string): void {
  fs.writeFileSync(path.join(dataPath, CLEAN_STOP_MARKER), '');
}

function hasEvents(client: ClickHouseClient): Promise<boolean> {
  return client
    .query({ query: 'SELECT 1 FROM events LIMIT 1', format: 'JSONEachRow' })
    .then((rs) => rs.json())
    .then((rows) => rows.length > 0, () => false);
}
