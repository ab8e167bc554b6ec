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
SELECT target, label, sum(c_clicks) AS clicks, uniqCombinedMerge(12)(c_visitors) AS visitors
FROM
(
        SELECT day, selector AS target, label, sum(clicks) AS c_clicks, uniqCombinedMergeState(12)(visitors) AS c_visitors
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
