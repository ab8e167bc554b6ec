/**
 * The duplicate check for redelivered jobs: a worker that died between an
 * insert and completing its job leaves rows in `events` that the job will
 * bring again. Only such jobs ask (first deliveries never do), so the
 * aggregates built from `events` stay exact without a lookup per row.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { EventRow } from '../anonymise/types.js';

/**
 * Of the given event ids, those already stored. Used only for redelivered jobs
 * (a worker died between insert and completion) so their rows are not written
 * twice, which keeps aggregates built on insert exact as well.
 */
export async function existingEventIds(client: ClickHouseClient, site: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rs = await client.query({
    // Ids travel as decimal strings (UInt64 does not fit a JS number); an Array(UInt64) parameter would arrive
    // as quoted strings, which ClickHouse refuses to read as numbers.
    query:
      'SELECT toString(event_id) AS id FROM events WHERE site = {site:String} ' +
      'AND event_id IN (SELECT arrayJoin(arrayMap(x -> toUInt64(x), {ids:Array(String)})))',
    query_params: { site, ids },
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ id: string }>()).map((r) => r.id));
}

/** `rows` without those whose event_id is already stored (a worker died after inserting, before completing). */
export async function withoutStoredRows(client: ClickHouseClient, rows: EventRow[]): Promise<EventRow[]> {
  const bySite = new Map<string, string[]>();
  for (const r of rows) {
    let ids = bySite.get(r.site);
    if (!ids) bySite.set(r.site, (ids = []));
    ids.push(r.event_id);
  }
  const stored = new Set<string>();
  for (const [site, ids] of bySite) for (const id of await existingEventIds(client, site, ids)) stored.add(`${site}\u0000${id}`);
  return stored.size ? rows.filter((r) => !stored.has(`${r.site}\u0000${r.event_id}`)) : rows;
}
