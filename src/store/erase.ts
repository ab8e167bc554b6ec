/**
 * Deleting one visitor-day's rows (`npm run erase`, docs/privacy.md): every
 * table that holds the daily visitor hash (`visitor_id`), found from the
 * store itself so a table added later is covered, restricted to the site and
 * the day. The aggregates without a visitor hash hold counts and
 * distinct-count sketches, from which no visitor's rows can be read back or
 * removed; they are left as they are.
 *
 * Mutations (`ALTER TABLE … DELETE`), waited for (`mutations_sync = 2`, in
 * the statement: a per-call setting would stick to the embedded engine's
 * session), with the values bound as parameters.
 */
import type { ClickHouseClient } from './client.js';

export interface ErasedTable {
  table: string;
  /** Rows matching before the delete (for the report; none remain after it). */
  rows: number;
}

export async function deleteVisitorDay(client: ClickHouseClient, p: { site: string; day: string; visitorId: string }): Promise<ErasedTable[]> {
  const rs = await client.query({
    query: `SELECT table, groupArray(name) AS cols FROM system.columns
            WHERE database = currentDatabase() AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree')
            GROUP BY table HAVING has(cols, 'visitor_id') AND has(cols, 'site') AND (has(cols, 'day') OR has(cols, 'ts')) ORDER BY table`,
    format: 'JSONEachRow',
  });
  const tables = await rs.json<{ table: string; cols: string[] }>();
  const out: ErasedTable[] = [];
  const params = { site: p.site, day: p.day, vid: p.visitorId };
  for (const { table, cols } of tables) {
    if (!/^\w+$/.test(table)) continue;
    const dayExpr = cols.includes('day') ? 'day' : 'toDate(ts)';
    const where = `site = {site:String} AND ${dayExpr} = {day:Date} AND visitor_id = {vid:UInt64}`;
    const count = await client.query({ query: `SELECT count() AS n FROM ${table} WHERE ${where}`, query_params: params, format: 'JSONEachRow' });
    const n = Number((await count.json<{ n: string | number }>())[0]?.n ?? 0);
    if (n > 0) await client.command({ query: `ALTER TABLE ${table} DELETE WHERE ${where} SETTINGS mutations_sync = 2`, query_params: params });
    out.push({ table, rows: n });
  }
  return out;
}
