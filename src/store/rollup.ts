/**
 * Daily rollup (schemas/003_rollups.sql explains the design): summarises each
 * finished UTC day of the short-lived per-page-view / per-visitor-day tables
 * (raw retention) into the agg_*_daily tables that keep the aggregate
 * retention, and records the day in rollup_days. The analyst views read the
 * rollup for a recorded day and the intermediate tables otherwise.
 *
 * Idempotent and safe to run concurrently: the rollup tables are
 * ReplacingMergeTree on their group key and read with FINAL, so a day rolled
 * up twice is replaced, not added. Every query binds its day as a parameter.
 *
 * Run by the process that writes (worker / all-in-one) once at start and then
 * about hourly; a day becomes eligible two days after it ends (day <= today - 2).
 */
import type { ClickHouseClient } from '@clickhouse/client';

/** Days that end before this many whole UTC days before `now` are rolled up: day <= today - ROLLUP_LAG_DAYS. */
export const ROLLUP_LAG_DAYS = 2;

/** Finished days with intermediate rows that have not been rolled up yet. */
export const PENDING_DAYS_SQL = `
SELECT DISTINCT day FROM
(
    SELECT DISTINCT day FROM agg_visitor_days WHERE day <= {last:Date}
    UNION ALL
    SELECT DISTINCT day FROM agg_pageview_engagement WHERE day <= {last:Date}
    UNION ALL
    SELECT DISTINCT day FROM agg_visitor_pageviews WHERE day <= {last:Date}
)
WHERE day NOT IN (SELECT day FROM rollup_days)
ORDER BY day`;

/** One INSERT … SELECT per rollup table, for the day {day:Date}. Keep in step with schemas/views.sql. */
export const ROLLUP_SQL: Record<string, string> = {
  agg_engagement_daily: `
INSERT INTO agg_engagement_daily (site, day, path, views, visible_ms, scroll)
SELECT site, day, path, count() AS views, quantilesState(0.5, 0.75)(v) AS visible_ms, quantilesState(0.5, 0.75)(s) AS scroll
FROM
(
    SELECT site, day, path, pageview_id, max(visible_ms) AS v, max(scroll) AS s
    FROM agg_pageview_engagement
    WHERE day = {day:Date}
    GROUP BY site, day, path, pageview_id
)
GROUP BY site, day, path`,

  agg_scroll_daily: `
INSERT INTO agg_scroll_daily (site, day, path, depth, views, visitors, networks)
SELECT site, day, path, depth, count() AS views, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM
(
    SELECT site, day, path, pageview_id, any(visitor_id) AS vid, max(network) AS net, toUInt8(intDiv(max(scroll), 10) * 10) AS depth
    FROM agg_pageview_engagement
    WHERE day = {day:Date}
    GROUP BY site, day, path, pageview_id
)
GROUP BY site, day, path, depth`,

  agg_visible_time_daily: `
INSERT INTO agg_visible_time_daily (site, day, path, from_s, views, visitors, networks)
SELECT site, day, path, from_s, count() AS views, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM
(
    SELECT site, day, path, pageview_id, any(visitor_id) AS vid, max(network) AS net,
           toUInt16(multiIf(max(visible_ms) < 1000, 0, max(visible_ms) < 3000, 1, max(visible_ms) < 10000, 3,
                            max(visible_ms) < 30000, 10, max(visible_ms) < 60000, 30, max(visible_ms) < 180000, 60, 180)) AS from_s
    FROM agg_pageview_engagement
    WHERE day = {day:Date}
    GROUP BY site, day, path, pageview_id
)
GROUP BY site, day, path, from_s`,

  agg_entry_exit_daily: `
INSERT INTO agg_entry_exit_daily (site, day, page, entries, exits, bounces, visitors, networks)
SELECT site, day, t.1 AS page, sum(t.2) AS entries, sum(t.3) AS exits, sum(t.4) AS bounces, uniqCombinedState(12)(vid) AS visitors,
       uniqCombined(12)(net) AS networks
FROM
(
    SELECT site, day, vid, net, arrayJoin([(en, 1, 0, toUInt8(pv = 1)), (ex, 0, 1, 0)]) AS t
    FROM
    (
        SELECT site, day, visitor_id AS vid, max(network) AS net, argMinMerge(entry) AS en, argMaxMerge(exit) AS ex, sum(pageviews) AS pv
        FROM agg_visitor_days
        WHERE day = {day:Date}
        GROUP BY site, day, visitor_id
        HAVING pv > 0
    )
)
GROUP BY site, day, page`,

  agg_transitions_daily: `
INSERT INTO agg_transitions_daily (site, day, from_page, to_page, transitions, visitors, networks)
SELECT site, day, from_page, to_page, count() AS transitions, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM
(
    SELECT site, day, vid, net, p AS from_page,
           leadInFrame(p, 1, '') OVER (PARTITION BY site, day, vid ORDER BY t ASC, pv ASC
                                       ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS to_page
    FROM
    (
        SELECT site, day, visitor_id AS vid, pageview_id AS pv, min(ts) AS t, any(path) AS p, max(network) AS net
        FROM agg_visitor_pageviews
        WHERE day = {day:Date}
        GROUP BY site, day, visitor_id, pageview_id
    )
)
WHERE to_page != ''
GROUP BY site, day, from_page, to_page`,

  // Quick backs (issue 14): a page view followed within 5 s by a page view of the page the visitor came from.
  // The same expressions as the recent-day branch of v_quick_backs (schemas/views.sql).
  agg_quick_backs_daily: `
INSERT INTO agg_quick_backs_daily (site, day, page, quick_backs, visitors, networks)
SELECT site, day, page, count() AS quick_backs, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM
(
    SELECT site, day, vid, net, p AS page,
           lagInFrame(p, 1, '') OVER w AS prev, leadInFrame(p, 1, '') OVER w AS next,
           lagInFrame(t, 1, t) OVER w AS prev_t, leadInFrame(t, 1, t) OVER w AS next_t, t
    FROM
    (
        SELECT site, day, visitor_id AS vid, pageview_id AS pv, min(ts) AS t, any(path) AS p, max(network) AS net
        FROM agg_visitor_pageviews
        WHERE day = {day:Date}
        GROUP BY site, day, visitor_id, pageview_id
    )
    WINDOW w AS (PARTITION BY site, day, vid ORDER BY t ASC, pv ASC ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
)
WHERE prev != '' AND next = prev AND page != prev AND prev_t < t AND t < next_t AND dateDiff('second', t, next_t) <= 5
GROUP BY site, day, page`,

  // Per page and device class (issue 13): the page views of agg_pageview_engagement with their visitor's device
  // (agg_visitor_networks). The same expressions as v_pages_by_device, v_scroll_depth_by_device, v_visible_time_by_device.
  agg_engagement_device_daily: `
INSERT INTO agg_engagement_device_daily (site, day, path, device_type, views, visible_ms, scroll)
SELECT site, day, path, device_type, count() AS views, quantilesState(0.5, 0.75)(v) AS visible_ms, quantilesState(0.5, 0.75)(s) AS scroll
FROM (${devicePageviews('{day:Date}')})
GROUP BY site, day, path, device_type`,

  agg_scroll_device_daily: `
INSERT INTO agg_scroll_device_daily (site, day, path, device_type, depth, views, visitors, networks)
SELECT site, day, path, device_type, toUInt8(intDiv(s, 10) * 10) AS depth, count() AS views, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM (${devicePageviews('{day:Date}')})
GROUP BY site, day, path, device_type, depth`,

  agg_visible_time_device_daily: `
INSERT INTO agg_visible_time_device_daily (site, day, path, device_type, from_s, views, visitors, networks)
SELECT site, day, path, device_type,
       toUInt16(multiIf(v < 1000, 0, v < 3000, 1, v < 10000, 3, v < 30000, 10, v < 60000, 30, v < 180000, 60, 180)) AS from_s,
       count() AS views, uniqCombinedState(12)(vid) AS visitors, uniqCombined(12)(net) AS networks
FROM (${devicePageviews('{day:Date}')})
GROUP BY site, day, path, device_type, from_s`,

  // The values of a custom prop hidden on the day under the current k (the view k_anonymity, re-created at every
  // start), pooled: v_custom_props releases the pool as (other) on its own k rule.
  agg_custom_props_other_daily: `
INSERT INTO agg_custom_props_other_daily (site, day, name, key, k, events, visitors, networks)
SELECT site, day, name, key, any(kk) AS k, sum(ev) AS events, uniqCombinedMergeState(12)(st) AS visitors, uniqCombinedMerge(12)(nst) AS networks
FROM
(
    SELECT site, day, name, key, value, (SELECT k FROM k_anonymity) AS kk, sum(events) AS ev,
           uniqCombinedMergeState(12)(visitors) AS st, uniqCombinedMergeState(12)(networks) AS nst
    FROM agg_custom_props_daily
    WHERE day = {day:Date}
    GROUP BY site, day, name, key, value
    HAVING NOT (uniqCombinedMerge(12)(visitors) >= kk AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= kk)
)
GROUP BY site, day, name, key`,

  // Before a day's network hashes go (NETWORK_DAYS), each visitor-day keeps one bit: whether it is its network's
  // representative (the smallest visitor hash on that network that day). v_experiment and v_funnel count the
  // representatives in a group as its networks: a lower bound (schemas/020_items_experiments.sql).
  'agg_visitor_networks.network_rep': `
INSERT INTO agg_visitor_networks (site, day, visitor_id, network_rep)
SELECT site, day, visitor_id, toUInt8(visitor_id = min(visitor_id) OVER (PARTITION BY site, day, net)) AS network_rep
FROM
(
    SELECT site, day, visitor_id, max(network) AS net
    FROM agg_visitor_networks
    WHERE day = {day:Date}
    GROUP BY site, day, visitor_id
)`,
};

/**
 * One row per page view with engagement on `day`: its page, the device class of its visitor, the visitor and
 * network hashes, the largest visible time and deepest scroll it reported. `day` is SQL: a bound parameter here;
 * schemas/views.sql writes the same for a period.
 */
function devicePageviews(day: string): string {
  return `
    SELECT e.site AS site, e.day AS day, e.path AS path, d.device_type AS device_type, e.vid AS vid, e.net AS net, e.v AS v, e.s AS s
    FROM
    (
        SELECT site, day, path, pageview_id, any(visitor_id) AS vid, max(network) AS net, max(visible_ms) AS v, max(scroll) AS s
        FROM agg_pageview_engagement
        WHERE day = ${day}
        GROUP BY site, day, path, pageview_id
    ) AS e
    INNER JOIN
    (
        SELECT site, day, visitor_id, max(device_type) AS device_type
        FROM agg_visitor_networks
        WHERE day = ${day}
        GROUP BY site, day, visitor_id
    ) AS d ON d.site = e.site AND d.day = e.day AND d.visitor_id = e.vid`;
}

/**
 * The insert-time aggregates (schemas/002, 005) and their group keys. For a
 * finished day the rollup stores each group's count of distinct networks in
 * `network_count`: the `networks` state it is counted from holds reversible
 * prefix hashes and is reset after NETWORK_DAYS (a column TTL), the count is
 * kept with the aggregates. Idempotent: `network_count` merges by max.
 */
export const NETWORK_COUNT_KEYS: Record<string, string> = {
  agg_pages_daily: 'path',
  agg_click_cells: 'path, viewport, cell_x, cell_y',
  agg_click_targets: 'path, selector, label',
  agg_devices_daily: 'device_type, browser, os',
  agg_page_devices_daily: 'path, device_type',
  agg_sources_daily: 'referrer_host, utm_source, utm_medium, utm_campaign',
  agg_custom_daily: 'name',
  agg_heatmap_cells: 'path, viewport, width, cell_x, cell_y',
  agg_heatmap_widths: 'path, viewport, width',
  agg_heatmap_targets: 'path, viewport, width, selector, label',
  agg_element_cells: 'path, frame, element, label, cell_x, cell_y',
  agg_page_frustration: 'path, signal',
  agg_items_daily: 'list, item, position',
  agg_custom_props_daily: 'name, key, value',
  agg_page_params_daily: 'path, param, value',
};

for (const [table, keys] of Object.entries(NETWORK_COUNT_KEYS)) {
  ROLLUP_SQL[`${table}.network_count`] = `
INSERT INTO ${table} (site, day, ${keys}, network_count)
SELECT site, day, ${keys}, uniqCombinedMerge(12)(networks) AS network_count
FROM ${table}
WHERE day = {day:Date}
GROUP BY site, day, ${keys}`;
}

/**
 * How long the network columns keep their prefix hashes (a column TTL, applied by applyColumnRetention in
 * src/store/migrate.ts): until a day has been rolled up and its network counts stored, and a day more for a
 * rollup that runs late. A day whose events arrive later than that (a queue backlog of NETWORK_DAYS) has no
 * network count and shows no group.
 */
export const NETWORK_DAYS = ROLLUP_LAG_DAYS + 1;

/** Every column that holds network identities (prefix hashes), by table (schemas/005_networks.sql). */
export const NETWORK_COLUMNS: readonly (readonly [string, string])[] = [
  ...Object.keys(NETWORK_COUNT_KEYS).map((t) => [t, 'networks'] as const),
  ['agg_pageview_engagement', 'network'],
  ['agg_visitor_days', 'network'],
  ['agg_visitor_pageviews', 'network'],
  ['agg_visitor_networks', 'network'],
];

/** YYYY-MM-DD of the UTC day `days` before `now`. */
export function utcDay(now: Date, daysBefore = 0): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysBefore)).toISOString().slice(0, 10);
}

/**
 * Rolls up every finished day not rolled up yet (day <= today - 2 at `now`),
 * oldest first. Returns the days rolled up (YYYY-MM-DD). `beforeStep` runs
 * before each statement: on a ClickHouse server, where several workers could
 * roll up, the worker holding the housekeeping lease passes its fence check
 * (src/queue/lease.ts), so a holder that lost the lease stops at once.
 */
export async function rollupFinishedDays(
  client: ClickHouseClient,
  now: Date = new Date(),
  log?: { info: (o: object, m: string) => void },
  beforeStep?: () => Promise<void>,
): Promise<string[]> {
  const last = utcDay(now, ROLLUP_LAG_DAYS);
  const rs = await client.query({ query: PENDING_DAYS_SQL, query_params: { last }, format: 'JSONEachRow' });
  const days = (await rs.json<{ day: string }>()).map((r) => r.day);
  for (const day of days) {
    for (const query of Object.values(ROLLUP_SQL)) {
      await beforeStep?.();
      await client.command({ query, query_params: { day } });
    }
    await beforeStep?.();
    await client.command({ query: 'INSERT INTO rollup_days (day) VALUES ({day:Date})', query_params: { day } });
  }
  if (days.length) log?.info({ days: days.length, first: days[0], last: days[days.length - 1] }, 'rolled up finished days');
  return days;
}

/**
 * Runs rollupFinishedDays now and then every `everyMs` (default hourly) until
 * stopped. Errors are reported to `onError` and retried at the next tick.
 */
export function scheduleRollup(
  client: ClickHouseClient,
  opts: { everyMs?: number; log?: { info: (o: object, m: string) => void }; onError?: (err: Error) => void } = {},
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running.then(() => rollupFinishedDays(client, new Date(), opts.log)).catch((err: Error) => opts.onError?.(err));
  };
  tick();
  const timer = setInterval(tick, opts.everyMs ?? 3_600_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
