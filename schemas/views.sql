-- Analyst views, re-created at every start (so a change of K_ANONYMITY takes
-- effect). docs/analysts.md documents each view with an example query.
--
-- The release rule (the same in every view). A cell is one UTC day × one
-- group of the view (a page, a heatmap cell, a device mix, a transition …).
-- A cell is released only when it has at least k = {{K_ANONYMITY}} distinct visitors
-- AND at least k distinct networks (IP prefixes, /24 or /48) on that day.
-- Every number a view returns is built from released cells only: sums of
-- their counts, distinct visitors merged from their states. Nothing is
-- folded into an "other" row and no total includes a hidden cell, so:
--   - a group is counted in people: one address with many browsers is one
--     network, and a person's five days are five cells of one visitor each;
--   - suppression is consistent: a longer period is exactly the sum of its
--     days' released cells, so differencing two periods (or a total and its
--     parts: v_summary and v_daily are built from v_pages' cells, v_summary's
--     visitor-days from v_entry_exit's) yields released cells only.
-- What remains, documented in docs/analysts.md: two views of different
-- dimensions (pages and devices, say) hide different cells, so their totals
-- differ by the hidden remainder of one dimension.
--
-- Distinct visitors are merged from uniqCombined(12) states, never summed
-- (exact below a few hundred visitors, where the threshold lives; about
-- 1.6 % error above). Networks: the state of the day (kept RETENTION_DAYS)
-- or the count the daily rollup stored (kept with the aggregates), the larger
-- (schemas/005_networks.sql).
--
-- Evaluation order: the k-filter is each view's inner HAVING. Analyst
-- queries run with every query-plan optimisation off (src/query/settings.ts),
-- so no outer filter or expression is pushed below it.
--
-- SQL SECURITY DEFINER: a view reads its aggregate tables with the rights of
-- the user who created it (the migrating admin), so the analyst role needs
-- SELECT on the v_* views only, never on agg_* or events.
--
-- No view reads `events`. Per-page-view and per-visitor-day figures (dwell
-- time and scroll quantiles, scroll distribution, bounce, entry/exit pages,
-- transitions) come, for each day of the period, from its daily rollup
-- (agg_*_daily, AGGREGATE_RETENTION_MONTHS) when the day is in rollup_days,
-- and otherwise from the intermediate tables (RETENTION_DAYS) that the rollup
-- reads: never from both (schemas/003_rollups.sql; src/store/rollup.ts
-- computes the rollups with the same expressions as the recent-day branches here).

CREATE OR REPLACE VIEW v_summary SQL SECURITY DEFINER AS
SELECT pageviews, visitors, visitor_days, bounces, round(bounces / greatest(visitor_days, 1), 3) AS bounce_rate
FROM
(
    SELECT sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
    FROM
    (
        SELECT day, path, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
    )
) AS p
CROSS JOIN
(
    SELECT sum(c_entries) AS visitor_days, sum(c_bounces) AS bounces
    FROM
    (
        SELECT day, g_page, sum(e) AS c_entries, sum(x) AS c_exits, sum(b) AS c_bounces, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, t.1 AS g_page, sum(t.2) AS e, sum(t.3) AS x, sum(t.4) AS b, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, vid, net, arrayJoin([(en, 1, 0, toUInt8(pv = 1)), (ex, 0, 1, 0)]) AS t
                FROM
                (
                    SELECT day, visitor_id AS vid, max(network) AS net, argMinMerge(entry) AS en, argMaxMerge(exit) AS ex, sum(pageviews) AS pv
                    FROM agg_visitor_days
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id
                    HAVING pv > 0
                )
            )
            GROUP BY day, g_page
            UNION ALL
            SELECT day, page AS g_page, entries AS e, exits AS x, bounces AS b, visitors AS st, networks AS nets
            FROM agg_entry_exit_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, g_page
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
    )
) AS b;

CREATE OR REPLACE VIEW v_daily SQL SECURITY DEFINER AS
SELECT day, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, path, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY day
ORDER BY day;

-- Dwell time and scroll depth are per page view (the largest running total it reported): quantile states
-- from agg_engagement_daily for rolled-up days, from agg_pageview_engagement for the others, over the
-- released (day, page) cells only.
CREATE OR REPLACE VIEW v_pages SQL SECURITY DEFINER AS
SELECT p.page AS page, pageviews, visitors, median_visible_ms, p75_visible_ms, median_scroll_depth, p75_scroll_depth
FROM
(
    SELECT path AS page, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
    FROM
    (
        SELECT day, path, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
    )
    GROUP BY page
) AS p
LEFT JOIN
(
    SELECT
        e.path AS page,
        quantilesMerge(0.5, 0.75)(e.qv) AS qv,
        quantilesMerge(0.5, 0.75)(e.qs) AS qs,
        toUInt32(ifNotFinite(qv[1], 0)) AS median_visible_ms,
        toUInt32(ifNotFinite(qv[2], 0)) AS p75_visible_ms,
        toUInt8(ifNotFinite(qs[1], 0)) AS median_scroll_depth,
        toUInt8(ifNotFinite(qs[2], 0)) AS p75_scroll_depth
    FROM
    (
        SELECT day, path, quantilesState(0.5, 0.75)(v) AS qv, quantilesState(0.5, 0.75)(s) AS qs
        FROM
        (
            SELECT day, path, max(visible_ms) AS v, max(scroll) AS s
            FROM agg_pageview_engagement
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day NOT IN (SELECT day FROM rollup_days)
            GROUP BY day, path, pageview_id
        )
        GROUP BY day, path
        UNION ALL
        SELECT day, path, visible_ms AS qv, scroll AS qs
        FROM agg_engagement_daily FINAL
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
          AND day IN (SELECT day FROM rollup_days)
    ) AS e
    INNER JOIN
    (
        SELECT day, path
        FROM
        (
        SELECT day, path, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
        )
    ) AS r ON r.day = e.day AND r.path = e.path
    GROUP BY page
) AS q ON q.page = p.page
ORDER BY pageviews DESC, page;

-- Page views per deepest-scroll bucket (0, 10, …, 100 %), one count per page view.
CREATE OR REPLACE VIEW v_scroll_depth SQL SECURITY DEFINER AS
SELECT depth, sum(c_views) AS views, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, depth, sum(n) AS c_views, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, depth, count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, any(visitor_id) AS vid, max(network) AS net,
                       toUInt8(intDiv(max(scroll), 10) * 10) AS depth
                FROM agg_pageview_engagement
                WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
                  AND day NOT IN (SELECT day FROM rollup_days)
                GROUP BY day, pageview_id
            )
            GROUP BY day, depth
            UNION ALL
            SELECT day, depth, views AS n, visitors AS st, networks AS nets
            FROM agg_scroll_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, depth
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY depth
ORDER BY depth;

CREATE OR REPLACE VIEW v_visible_time SQL SECURITY DEFINER AS
SELECT from_s, sum(c_views) AS views, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, from_s, sum(n) AS c_views, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, from_s, count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, any(visitor_id) AS vid, max(network) AS net,
                       toUInt16(multiIf(max(visible_ms) < 1000, 0, max(visible_ms) < 3000, 1, max(visible_ms) < 10000, 3,
                                        max(visible_ms) < 30000, 10, max(visible_ms) < 60000, 30, max(visible_ms) < 180000, 60, 180)) AS from_s
                FROM agg_pageview_engagement
                WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
                  AND day NOT IN (SELECT day FROM rollup_days)
                GROUP BY day, pageview_id
            )
            GROUP BY day, from_s
            UNION ALL
            SELECT day, from_s, views AS n, visitors AS st, networks AS nets
            FROM agg_visible_time_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, from_s
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY from_s
ORDER BY from_s;

CREATE OR REPLACE VIEW v_heatmap SQL SECURITY DEFINER AS
SELECT viewport, cell_x, cell_y, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, viewport, cell_x, cell_y, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_click_cells
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, viewport, cell_x, cell_y
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY viewport, cell_x, cell_y
ORDER BY clicks DESC, viewport, cell_y, cell_x;

CREATE OR REPLACE VIEW v_click_targets SQL SECURITY DEFINER AS
SELECT target, label, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors, sum(c_rage) AS rage_clicks, sum(c_dead) AS dead_clicks
FROM
(
        SELECT day, selector AS target, label, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors,
               sum(rage_clicks) AS c_rage, sum(dead_clicks) AS c_dead
        FROM agg_click_targets
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, target, label
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY target, label
ORDER BY clicks DESC, target, label;

CREATE OR REPLACE VIEW v_devices SQL SECURITY DEFINER AS
SELECT device_type, browser, os, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, device_type, browser, os, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, device_type, browser, os
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY device_type, browser, os
ORDER BY pageviews DESC, device_type, browser, os;

CREATE OR REPLACE VIEW v_page_devices SQL SECURITY DEFINER AS
SELECT device_type, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, device_type, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_page_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, device_type
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY device_type
ORDER BY pageviews DESC, device_type;

CREATE OR REPLACE VIEW v_sources SQL SECURITY DEFINER AS
SELECT referrer_host, utm_source, utm_medium, utm_campaign, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, referrer_host, utm_source, utm_medium, utm_campaign, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_sources_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, referrer_host, utm_source, utm_medium, utm_campaign
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY referrer_host, utm_source, utm_medium, utm_campaign
ORDER BY pageviews DESC, referrer_host, utm_source, utm_medium, utm_campaign;

CREATE OR REPLACE VIEW v_custom_events SQL SECURITY DEFINER AS
SELECT name, sum(c_events) AS events, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, name, sum(events) AS c_events, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_custom_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, name
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY name
ORDER BY events DESC, name;

-- Entry and exit pages and single-page visits, per visitor-day.
CREATE OR REPLACE VIEW v_entry_exit SQL SECURITY DEFINER AS
SELECT g_page AS page, sum(c_entries) AS entries, sum(c_exits) AS exits, sum(c_bounces) AS bounces, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, g_page, sum(e) AS c_entries, sum(x) AS c_exits, sum(b) AS c_bounces, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, t.1 AS g_page, sum(t.2) AS e, sum(t.3) AS x, sum(t.4) AS b, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, vid, net, arrayJoin([(en, 1, 0, toUInt8(pv = 1)), (ex, 0, 1, 0)]) AS t
                FROM
                (
                    SELECT day, visitor_id AS vid, max(network) AS net, argMinMerge(entry) AS en, argMaxMerge(exit) AS ex, sum(pageviews) AS pv
                    FROM agg_visitor_days
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id
                    HAVING pv > 0
                )
            )
            GROUP BY day, g_page
            UNION ALL
            SELECT day, page AS g_page, entries AS e, exits AS x, bounces AS b, visitors AS st, networks AS nets
            FROM agg_entry_exit_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, g_page
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY page
ORDER BY entries DESC, page;

-- Page-to-page transitions: the next page view of the same visitor on the same day.
CREATE OR REPLACE VIEW v_transitions SQL SECURITY DEFINER AS
SELECT g_from AS from_page, g_to AS to_page, sum(c_n) AS transitions, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, g_from, g_to, sum(n) AS c_n, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, g_from, g_to, count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, vid, net, p AS g_from,
                       leadInFrame(p, 1, '') OVER (PARTITION BY day, vid ORDER BY t ASC, pv ASC
                                                   ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS g_to
                FROM
                (
                    SELECT day, visitor_id AS vid, pageview_id AS pv, min(ts) AS t, any(path) AS p, max(network) AS net
                    FROM agg_visitor_pageviews
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id, pageview_id
                )
            )
            WHERE g_to != ''
            GROUP BY day, g_from, g_to
            UNION ALL
            SELECT day, from_page AS g_from, to_page AS g_to, transitions AS n, visitors AS st, networks AS nets
            FROM agg_transitions_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, g_from, g_to
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY from_page, to_page
ORDER BY transitions DESC, from_page, to_page;

-- ---------------------------------------------------------------------------
-- Which layout sells (issue 13; schemas/020_items_experiments.sql). The same
-- release rule: cells of one UTC day, k visitors AND k networks, figures are
-- sums of released cells.

-- The k of this start, for the daily rollup's pooled (other) values of custom props (src/store/rollup.ts). Not an
-- analyst view.
CREATE OR REPLACE VIEW k_anonymity AS SELECT toUInt16({{K_ANONYMITY}}) AS k;

-- Product tiles: impressions, clicks and click-through per tile and position in a list (level 'item'), and per
-- position whatever the tile (level 'position', item ''). Position-level cells are counted on their own at insert
-- time (schemas/020), so a position is shown when k visitors from k networks saw or clicked a tile there that day,
-- whichever tiles they were. `list` = '*' for every list.
CREATE OR REPLACE VIEW v_items SQL SECURITY DEFINER AS
SELECT if(item = '', 'position', 'item') AS level, list, item, position,
       sum(c_impressions) AS impressions, sum(c_clicks) AS clicks,
       if(impressions > 0, round(clicks / impressions, 4), NULL) AS ctr,
       uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, list, item, position, sum(impressions) AS c_impressions, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_items_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND ({list:String} = '*' OR list = {list:String})
        GROUP BY day, list, item, position
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY list, item, position
ORDER BY level, list, position, item;

-- Custom props of one event name, by key and value. A value is shown from its released (day, key, value) cells.
-- The values hidden on a day are pooled into that day's `(other)` cell of the key, itself released only with k
-- visitors and k networks (so no single hidden value can make it up): from the states while the day is live, from
-- the daily rollup's pool (formed under this k) once it is rolled up.
CREATE OR REPLACE VIEW v_custom_props SQL SECURITY DEFINER AS
SELECT key, value, sum(c_events) AS events, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
    SELECT day, key, value, c_events, c_visitors
    FROM
    (
        SELECT day, key, value, sum(events) AS c_events, uniqCombinedMergeState(12)(visitors) AS c_visitors,
               uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
               AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}} AS released
        FROM agg_custom_props_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND name = {name:String}
        GROUP BY day, key, value
    )
    WHERE released
    UNION ALL
    SELECT day, key, '(other)' AS value, sum(ev) AS c_events, uniqCombinedMergeState(12)(st) AS c_visitors
    FROM
    (
        SELECT day, key, sum(ev) AS ev, uniqCombinedMergeState(12)(st) AS st, uniqCombinedMerge(12)(nst) AS nets
        FROM
        (
            SELECT day, key, value, sum(events) AS ev, uniqCombinedMergeState(12)(visitors) AS st, uniqCombinedMergeState(12)(networks) AS nst
            FROM agg_custom_props_daily
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND name = {name:String}
              AND day NOT IN (SELECT day FROM rollup_days)
            GROUP BY day, key, value
            HAVING NOT (uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
                        AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}})
        )
        GROUP BY day, key
        UNION ALL
        SELECT day, key, events AS ev, visitors AS st, networks AS nets
        FROM agg_custom_props_other_daily FINAL
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND name = {name:String}
          AND k = {{K_ANONYMITY}} AND day IN (SELECT day FROM rollup_days)
    )
    GROUP BY day, key
    HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY key, value
ORDER BY key, value = '(other)', events DESC, value;

-- Page views of one page by its allowlisted query parameters (schemas/021): the demo's product pages are one path,
-- /demo/product, told apart by ?sku=…. A cell is (day, param, value) within the page.
CREATE OR REPLACE VIEW v_page_params SQL SECURITY DEFINER AS
SELECT param, value, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, param, value, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_page_params_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, param, value
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY param, value
ORDER BY pageviews DESC, param, value;

-- Per device class (desktop, mobile, tablet, …; `device`): v_pages, v_scroll_depth and v_visible_time for the page
-- views of one device class, whose cells are (day, page, device) and (day, bucket) within a page and device. The
-- device of a page view's engagement is its visitor's (agg_visitor_networks); rolled-up days come from the
-- per-device rollups (src/store/rollup.ts devicePageviews: the same expressions).
CREATE OR REPLACE VIEW v_pages_by_device SQL SECURITY DEFINER AS
SELECT p.page AS page, pageviews, visitors, median_visible_ms, p75_visible_ms, median_scroll_depth, p75_scroll_depth
FROM
(
    SELECT path AS page, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors
    FROM
    (
        SELECT day, path, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_page_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND device_type = {device:String}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
    )
    GROUP BY page
) AS p
LEFT JOIN
(
    SELECT
        e.path AS page,
        quantilesMerge(0.5, 0.75)(e.qv) AS qv,
        quantilesMerge(0.5, 0.75)(e.qs) AS qs,
        toUInt32(ifNotFinite(qv[1], 0)) AS median_visible_ms,
        toUInt32(ifNotFinite(qv[2], 0)) AS p75_visible_ms,
        toUInt8(ifNotFinite(qs[1], 0)) AS median_scroll_depth,
        toUInt8(ifNotFinite(qs[2], 0)) AS p75_scroll_depth
    FROM
    (
        SELECT day, path, quantilesState(0.5, 0.75)(v) AS qv, quantilesState(0.5, 0.75)(s) AS qs
        FROM
        (
            SELECT e.day AS day, e.path AS path, e.v AS v, e.s AS s
            FROM
            (
                SELECT day, path, pageview_id, any(visitor_id) AS vid, max(visible_ms) AS v, max(scroll) AS s
                FROM agg_pageview_engagement
                WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                  AND day NOT IN (SELECT day FROM rollup_days)
                GROUP BY day, path, pageview_id
            ) AS e
            INNER JOIN
            (
                SELECT day, visitor_id, max(device_type) AS device_type
                FROM agg_visitor_networks
                WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                GROUP BY day, visitor_id
            ) AS d ON d.day = e.day AND d.visitor_id = e.vid
            WHERE d.device_type = {device:String}
        )
        GROUP BY day, path
        UNION ALL
        SELECT day, path, visible_ms AS qv, scroll AS qs
        FROM agg_engagement_device_daily FINAL
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND device_type = {device:String}
          AND day IN (SELECT day FROM rollup_days)
    ) AS e
    INNER JOIN
    (
        SELECT day, path
        FROM agg_page_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND device_type = {device:String}
        GROUP BY day, path
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
    ) AS r ON r.day = e.day AND r.path = e.path
    GROUP BY page
) AS q ON q.page = p.page
ORDER BY pageviews DESC, page;

CREATE OR REPLACE VIEW v_scroll_depth_by_device SQL SECURITY DEFINER AS
SELECT depth, sum(c_views) AS views, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, depth, sum(n) AS c_views, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, toUInt8(intDiv(s, 10) * 10) AS depth, count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT e.day AS day, e.vid AS vid, e.net AS net, e.s AS s
                FROM
                (
                    SELECT day, pageview_id, any(visitor_id) AS vid, max(network) AS net, max(scroll) AS s
                    FROM agg_pageview_engagement
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, pageview_id
                ) AS e
                INNER JOIN
                (
                    SELECT day, visitor_id, max(device_type) AS device_type
                    FROM agg_visitor_networks
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                    GROUP BY day, visitor_id
                ) AS d ON d.day = e.day AND d.visitor_id = e.vid
                WHERE d.device_type = {device:String}
            )
            GROUP BY day, depth
            UNION ALL
            SELECT day, depth, views AS n, visitors AS st, networks AS nets
            FROM agg_scroll_device_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String} AND device_type = {device:String}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, depth
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY depth
ORDER BY depth;

CREATE OR REPLACE VIEW v_visible_time_by_device SQL SECURITY DEFINER AS
SELECT from_s, sum(c_views) AS views, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, from_s, sum(n) AS c_views, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, toUInt16(multiIf(v < 1000, 0, v < 3000, 1, v < 10000, 3, v < 30000, 10, v < 60000, 30, v < 180000, 60, 180)) AS from_s,
                   count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT e.day AS day, e.vid AS vid, e.net AS net, e.v AS v
                FROM
                (
                    SELECT day, pageview_id, any(visitor_id) AS vid, max(network) AS net, max(visible_ms) AS v
                    FROM agg_pageview_engagement
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, pageview_id
                ) AS e
                INNER JOIN
                (
                    SELECT day, visitor_id, max(device_type) AS device_type
                    FROM agg_visitor_networks
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                    GROUP BY day, visitor_id
                ) AS d ON d.day = e.day AND d.visitor_id = e.vid
                WHERE d.device_type = {device:String}
            )
            GROUP BY day, from_s
            UNION ALL
            SELECT day, from_s, views AS n, visitors AS st, networks AS nets
            FROM agg_visible_time_device_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String} AND device_type = {device:String}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, from_s
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY from_s
ORDER BY from_s;

-- Layout experiments. The unit is the visitor-day (daily salts make days unlinkable), assigned to the arm it was
-- shown first that day; it converts when it reaches `goal` at or after that first exposure (to the second):
--   goal '/checkout/done' a page view of that path; '/products/*' (a trailing *) of any path under it;
--   goal 'item:usb-c-65w' a click inside that tile; 'item:*' inside any tile; anything else: a custom event name.
-- A (day, experiment) is released only when every arm shown that day has k visitor-days and k networks (so arms
-- are compared over the same days), and when the goal was reached that day by k visitor-days from k networks
-- (anyone's, in the experiment or not): a goal is a free parameter, and without this a page or event the other
-- views hide (3 visitors) would show as 3 conversions. Networks are counted as the visitor-days that represent
-- their network (schemas/020: a lower bound, from the network hash while the day is live, from network_rep once
-- rolled up). Conversions are counts within released arms and days. Rows come from per-visitor-day facts, so the
-- view answers for the last RETENTION_DAYS. The whole result is hidden when any arm has fewer than k visitor-days.
-- Statistics against the first arm (in name order): uplift = difference of conversion rates; a 95 % Wald interval
-- of that difference; the two-sided p-value of the pooled two-proportion z-test; below_min_sample when any arm has
-- fewer than min_sample (100) visitor-days.
CREATE OR REPLACE VIEW v_experiment SQL SECURITY DEFINER AS
WITH
    -- Per visitor-day: when it last reached the goal that day.
    reached AS
    (
        SELECT day, visitor_id, max(ts) AS tg
        FROM agg_visitor_steps
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
          AND multiIf(startsWith({goal:String}, '/'),
                      kind = 'page' AND if(endsWith({goal:String}, '*'), startsWith(value, substring({goal:String}, 1, length({goal:String}) - 1)), value = {goal:String}),
                      startsWith({goal:String}, 'item:'),
                      kind = 'item' AND ({goal:String} = 'item:*' OR value = substring({goal:String}, 6)),
                      kind = 'event' AND value = lower({goal:String}))
        GROUP BY day, visitor_id
    ),
    -- Per visitor-day: 1 when it represents its network that day.
    reps AS
    (
        SELECT day, visitor_id, if(rolled, rep_stored, toUInt8(visitor_id = min(visitor_id) OVER (PARTITION BY day, net))) AS rep
        FROM
        (
            SELECT day, visitor_id, max(network) AS net, max(network_rep) AS rep_stored, day IN (SELECT day FROM rollup_days) AS rolled
            FROM agg_visitor_networks
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
            GROUP BY day, visitor_id
        )
    ),
    -- The days on which the goal itself is a released cell.
    goal_days AS
    (
        SELECT g.day AS day
        FROM reached AS g
        LEFT JOIN reps AS nr ON nr.day = g.day AND nr.visitor_id = g.visitor_id
        GROUP BY g.day
        HAVING count() >= {{K_ANONYMITY}} AND sum(nr.rep) >= {{K_ANONYMITY}}
    )
SELECT arm, visitors, conversions, round(rate, 4) AS rate,
       if(idx = 1, NULL, round(diff, 4)) AS uplift,
       if(idx = 1, NULL, round(diff - 1.959964 * se, 4)) AS ci_low,
       if(idx = 1, NULL, round(diff + 1.959964 * se, 4)) AS ci_high,
       if(idx = 1 OR NOT (se0 > 0), NULL, round(erfc(abs(diff) / se0 / sqrt(2)), 6)) AS p_value,
       toUInt32(100) AS min_sample,
       toUInt8(min_n < min_sample) AS below_min_sample
FROM
(
    SELECT arm, visitors, conversions, conversions / visitors AS rate,
           row_number() OVER w AS idx,
           min(visitors) OVER w AS min_n,
           first_value(visitors) OVER w AS n0,
           first_value(conversions) OVER w AS c0,
           c0 / n0 AS rate0,
           rate - rate0 AS diff,
           (conversions + c0) / (visitors + n0) AS pooled,
           sqrt(pooled * (1 - pooled) * (1 / visitors + 1 / n0)) AS se0,
           sqrt(rate * (1 - rate) / visitors + rate0 * (1 - rate0) / n0) AS se
    FROM
    (
        SELECT arm, sum(n) AS visitors, sum(c) AS conversions
        FROM
        (
            SELECT day, arm, n, c, min(n) OVER (PARTITION BY day) AS day_min_n, min(r) OVER (PARTITION BY day) AS day_min_r
            FROM
            (
                SELECT x.day AS day, x.arm AS arm, count() AS n, countIf(g.tg >= x.t0) AS c, sum(nr.rep) AS r
                FROM
                (
                    SELECT day, visitor_id, argMinMerge(arm) AS arm, min(first_seen) AS t0
                    FROM agg_visitor_arms
                    WHERE site = {site:String} AND experiment = {experiment:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                    GROUP BY day, visitor_id
                ) AS x
                LEFT JOIN reached AS g ON g.day = x.day AND g.visitor_id = x.visitor_id
                LEFT JOIN reps AS nr ON nr.day = x.day AND nr.visitor_id = x.visitor_id
                GROUP BY day, arm
            )
        )
        WHERE day_min_n >= {{K_ANONYMITY}} AND day_min_r >= {{K_ANONYMITY}} AND day IN (SELECT day FROM goal_days)
        GROUP BY arm
    )
    WINDOW w AS (ORDER BY arm ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
WHERE min_n >= {{K_ANONYMITY}}
ORDER BY arm;

-- Funnels: `steps` (an array of page paths, '/prefix/*' patterns, 'item:…' tile clicks or custom event names, as
-- for v_experiment's goal), in order within a visitor-day: step i is reached at the first matching event at or
-- after step i-1 was reached (to the second). A cell is (day, step): the visitor-days that reached at least that
-- step, released with k of them and k networks (representatives, as in v_experiment). A visitor-day that reached
-- step i+1 reached step i, so a step's released days are among its predecessor's: every step of `steps` is
-- listed, a step with no released day says fewer_than_k = 1 with visitors and drop_off NULL, and so does every
-- step after it. drop_off = the previous step's visitors minus this one's (both sums of released cells).
-- `device`: a device class, or '' for all. Answers for the last RETENTION_DAYS.
CREATE OR REPLACE VIEW v_funnel SQL SECURITY DEFINER AS
SELECT step, name, visitors, fewer_than_k,
       lagInFrame(visitors) OVER (ORDER BY step ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) - visitors AS drop_off,
       round(visitors / first_value(visitors) OVER (ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 4) AS conversion
FROM
(
    SELECT st.step AS step, st.name AS name, if(r.days > 0, r.shown, NULL) AS visitors, toUInt8(r.days = 0) AS fewer_than_k
    FROM
    (
        SELECT s.1 AS step, s.2 AS name
        FROM (SELECT arrayJoin(arrayZip(arrayEnumerate({steps:Array(String)}), {steps:Array(String)})) AS s)
    ) AS st
    LEFT JOIN
    (
        SELECT step, sum(n) AS shown, count() AS days
        FROM
        (
            SELECT day, step, count() AS n, sum(rep) AS r
            FROM
            (
                SELECT f.day AS day, arrayJoin(range(1, f.depth + 1)) AS step, nr.rep AS rep
                FROM
                (
                    SELECT day, visitor_id,
                           arrayCount(t -> t < 4294967295, arraySlice(arrayFold((acc, s) -> arrayPushBack(acc, arrayMin(arrayMap(e -> if(e.1 >= acc[-1] AND multiIf(
                               startsWith(s, '/'), e.2 = 'page' AND if(endsWith(s, '*'), startsWith(e.3, substring(s, 1, length(s) - 1)), e.3 = s),
                               startsWith(s, 'item:'), e.2 = 'item' AND (s = 'item:*' OR e.3 = substring(s, 6)),
                               e.2 = 'event' AND e.3 = lower(s)), e.1, toUInt32(4294967295)), evs))), {steps:Array(String)}, [toUInt32(0)]), 2)) AS depth
                    FROM
                    (
                        SELECT day, visitor_id, groupArray((toUInt32(ts), kind, value)) AS evs
                        FROM
                        (
                            SELECT day, visitor_id, event_id, any(ts) AS ts, any(kind) AS kind, any(value) AS value
                            FROM agg_visitor_steps
                            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                            GROUP BY day, visitor_id, event_id
                        )
                        GROUP BY day, visitor_id
                    )
                ) AS f
                INNER JOIN
                (
                    SELECT day, visitor_id, device_type, if(rolled, rep_stored, toUInt8(visitor_id = min(visitor_id) OVER (PARTITION BY day, net))) AS rep
                    FROM
                    (
                        SELECT day, visitor_id, max(device_type) AS device_type, max(network) AS net, max(network_rep) AS rep_stored,
                               day IN (SELECT day FROM rollup_days) AS rolled
                        FROM agg_visitor_networks
                        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                        GROUP BY day, visitor_id
                    )
                ) AS nr ON nr.day = f.day AND nr.visitor_id = f.visitor_id
                WHERE f.depth > 0 AND ({device:String} = '' OR nr.device_type = {device:String})
            )
            GROUP BY day, step
            HAVING n >= {{K_ANONYMITY}} AND r >= {{K_ANONYMITY}}
        )
        GROUP BY step
    ) AS r ON r.step = st.step
)
ORDER BY step;

-- Heatmaps (issue 14, schemas/030_heatmaps.sql; docs/analysts.md).
--
-- Width buckets: `width` names a bucket by the window width the dashboard
-- draws it at: 390 (mobile), 768 (tablet), 1024, 1280, 1440, 1920 (desktop),
-- and 0 stands for every desktop width together. The fallback to the coarser
-- bucket, per (day, group) cell: a cell of one desktop width is shown when it
-- is released on its own; the same group over every desktop width (width 0)
-- is shown only when no single width of it is released that day. So a width-0
-- row holds exactly the clicks no single width could show, a width-0 row and
-- a width row never cover the same day's clicks, and summing a viewport's rows
-- counts each released click once. No difference of rows yields a hidden
-- cell: width 0 is shown only where no width was, and then it is released on
-- its own k.
--
-- The released flag and the fallback are computed over the grouped cells of
-- the period (a window over the day's widths of one group) and filtered in the
-- subquery above them; analyst queries run with every query-plan optimisation
-- off (src/query/settings.ts), so no outer filter reaches below it.

-- Page heatmap: 20 × 20 px cells, x from the document's centre line.
CREATE OR REPLACE VIEW v_heatmap_cells SQL SECURITY DEFINER AS
SELECT viewport, width, cell_x, cell_y, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
    SELECT day, viewport, width, cell_x, cell_y, c_clicks, c_visitors
    FROM
    (
        SELECT day, viewport, width, cell_x, cell_y, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors,
               uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
                   AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}} AS released,
               max(released AND width != 0) OVER (PARTITION BY day, viewport, cell_x, cell_y) AS width_released
        FROM agg_heatmap_cells
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, viewport, width, cell_x, cell_y
    )
    WHERE released AND (width != 0 OR NOT width_released)
)
GROUP BY viewport, width, cell_x, cell_y
ORDER BY clicks DESC, viewport, width, cell_y, cell_x;

-- Page views per width bucket (the heatmap's "per 100 page views") and the median viewport height (its fold line).
CREATE OR REPLACE VIEW v_heatmap_widths SQL SECURITY DEFINER AS
SELECT viewport, width, sum(c_pageviews) AS pageviews, uniqCombinedMerge(12)(c_visitors) AS visitors,
       toUInt16(ifNotFinite(quantileMerge(0.5)(c_heights), 0)) AS median_viewport_h
FROM
(
    SELECT day, viewport, width, c_pageviews, c_visitors, c_heights
    FROM
    (
        SELECT day, viewport, width, sum(pageviews) AS c_pageviews, uniqCombinedMergeState(12)(visitors) AS c_visitors,
               quantileMergeState(0.5)(heights) AS c_heights,
               uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
                   AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}} AS released,
               max(released AND width != 0) OVER (PARTITION BY day, viewport) AS width_released
        FROM agg_heatmap_widths
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, viewport, width
    )
    WHERE released AND (width != 0 OR NOT width_released)
)
GROUP BY viewport, width
ORDER BY viewport, width;

-- Clicked elements per width bucket, with rage and dead clicks.
CREATE OR REPLACE VIEW v_heatmap_targets SQL SECURITY DEFINER AS
SELECT viewport, width, target, label, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors,
       sum(c_rage) AS rage_clicks, sum(c_dead) AS dead_clicks
FROM
(
    SELECT day, viewport, width, target, label, c_clicks, c_visitors, c_rage, c_dead
    FROM
    (
        SELECT day, viewport, width, selector AS target, label, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors,
               sum(rage_clicks) AS c_rage, sum(dead_clicks) AS c_dead,
               uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
                   AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}} AS released,
               max(released AND width != 0) OVER (PARTITION BY day, viewport, target, label) AS width_released
        FROM agg_heatmap_targets
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, viewport, width, target, label
    )
    WHERE released AND (width != 0 OR NOT width_released)
)
GROUP BY viewport, width, target, label
ORDER BY clicks DESC, viewport, width, target, label;

-- Element heatmaps: which part of an element (frame 'element': the clicked element) or of a product tile
-- (frame 'tile': every tile of a list together, `element` the list) is clicked, in fifths of its box.
CREATE OR REPLACE VIEW v_element_heatmap SQL SECURITY DEFINER AS
SELECT frame, element, label, cell_x, cell_y, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, frame, element, label, cell_x, cell_y, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_element_cells
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY day, frame, element, label, cell_x, cell_y
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY frame, element, label, cell_x, cell_y
ORDER BY clicks DESC, frame, element, label, cell_y, cell_x;

-- Rage and dead clicks per page: a (day, page, signal) cell is released when k visitors from k networks gave
-- that signal on the page that day.
CREATE OR REPLACE VIEW v_frustration SQL SECURITY DEFINER AS
SELECT page, signal, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, path AS page, signal, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors
        FROM agg_page_frustration
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY day, page, signal
        HAVING uniqCombinedMerge(12)(visitors) >= {{K_ANONYMITY}}
           AND greatest(uniqCombinedMerge(12)(networks), max(network_count)) >= {{K_ANONYMITY}}
)
GROUP BY page, signal
ORDER BY clicks DESC, page, signal;

-- Quick backs: a page view followed within 5 s (to the second) by a page view of the page the visitor came
-- from, the same day. From the visitor's page views, like v_transitions (rolled up by src/store/rollup.ts).
-- Stored times are seconds: only page views in seconds of their own (before < page < after) have a known order.
CREATE OR REPLACE VIEW v_quick_backs SQL SECURITY DEFINER AS
SELECT g_page AS page, sum(c_n) AS quick_backs, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, g_page, sum(n) AS c_n, uniqCombinedMergeState(12)(st) AS c_visitors
        FROM
        (
            SELECT day, page AS g_page, count() AS n, uniqCombinedState(12)(vid) AS st, uniqCombined(12)(net) AS nets
            FROM
            (
                SELECT day, vid, net, p AS page,
                       lagInFrame(p, 1, '') OVER w AS prev, leadInFrame(p, 1, '') OVER w AS next,
                       lagInFrame(t, 1, t) OVER w AS prev_t, leadInFrame(t, 1, t) OVER w AS next_t, t
                FROM
                (
                    SELECT day, visitor_id AS vid, pageview_id AS pv, min(ts) AS t, any(path) AS p, max(network) AS net
                    FROM agg_visitor_pageviews
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id, pageview_id
                )
                WINDOW w AS (PARTITION BY day, vid ORDER BY t ASC, pv ASC ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
            )
            WHERE prev != '' AND next = prev AND page != prev AND prev_t < t AND t < next_t AND dateDiff('second', t, next_t) <= 5
            GROUP BY day, g_page
            UNION ALL
            SELECT day, page AS g_page, quick_backs AS n, visitors AS st, networks AS nets
            FROM agg_quick_backs_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY day, g_page
        HAVING uniqCombinedMerge(12)(st) >= {{K_ANONYMITY}} AND max(nets) >= {{K_ANONYMITY}}
)
GROUP BY page
ORDER BY quick_backs DESC, page;

-- How fresh the aggregates are (src/store/aggregator.ts fills them from `events` in the background, every
-- AGGREGATE_EVERY_MS): data_up_to is the newest event time aggregated, aggregated_at when the last run finished.
-- Nothing about visitors. On a ClickHouse cluster the aggregates are filled at insert time and this view is empty
-- of runs (1970-01-01).
CREATE OR REPLACE VIEW v_freshness SQL SECURITY DEFINER AS
SELECT max(max_ts) AS data_up_to, max(at) AS aggregated_at
FROM agg_runs
WHERE step = 'done';
