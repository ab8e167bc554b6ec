-- Analyst views, re-created at every start (so a change of K_ANONYMITY takes
-- effect). Each is parameterised by site and period and suppresses every
-- group with fewer than k = {{K_ANONYMITY}} distinct visitors in that period,
-- folding such groups into an 'other' row where that keeps totals meaningful
-- (and dropping 'other' too when it is itself below k). Distinct visitors are
-- merged from uniqCombined(12) states, never summed, so 'other' is counted correctly
-- (exact below a few hundred visitors, where the k threshold lives; about 1.6 % error above).
-- docs/analysts.md documents each view with an example query.
--
-- SQL SECURITY DEFINER: a view reads its aggregate tables with the rights of
-- the user who created it (the migrating admin), so the analyst role needs
-- SELECT on the v_* views only, never on agg_* or events (ClickHouse's
-- default for views is INVOKER, which would demand grants on the tables).
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
    SELECT sum(pageviews) AS pageviews, uniqCombinedMerge(12)(visitors) AS visitors
    FROM agg_pages_daily
    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
) AS p
CROSS JOIN
(
    SELECT sum(vd) AS visitor_days, sum(b) AS bounces
    FROM
    (
        SELECT count() AS vd, countIf(pv = 1) AS b
        FROM (SELECT sum(pageviews) AS pv FROM agg_visitor_days
              WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                AND day NOT IN (SELECT day FROM rollup_days)
              GROUP BY day, visitor_id)
        UNION ALL
        SELECT sum(entries) AS vd, sum(bounces) AS b
        FROM agg_entry_exit_daily FINAL
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
          AND day IN (SELECT day FROM rollup_days)
    )
) AS b
WHERE visitors >= {{K_ANONYMITY}};

CREATE OR REPLACE VIEW v_daily SQL SECURITY DEFINER AS
SELECT day, sum(pageviews) AS pageviews, uniqCombinedMerge(12)(visitors) AS visitors
FROM agg_pages_daily
WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
GROUP BY day
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY day;

-- Dwell time and scroll depth are per page view (the largest running total it reported): quantile states
-- from agg_engagement_daily for rolled-up days, from agg_pageview_engagement for the others.
CREATE OR REPLACE VIEW v_pages SQL SECURITY DEFINER AS
SELECT page, pageviews, visitors, median_visible_ms, p75_visible_ms, median_scroll_depth, p75_scroll_depth
FROM
(
    SELECT
        if(g_visitors >= {{K_ANONYMITY}}, path, 'other') AS page,
        sum(g_pageviews) AS pageviews,
        uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT path, sum(pageviews) AS g_pageviews, uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY path
    )
    GROUP BY page
) AS p
LEFT JOIN
(
    SELECT
        if(g_visitors >= {{K_ANONYMITY}}, e.path, 'other') AS page,
        quantilesMerge(0.5, 0.75)(e.qv) AS qv,
        quantilesMerge(0.5, 0.75)(e.qs) AS qs,
        toUInt32(ifNotFinite(qv[1], 0)) AS median_visible_ms,
        toUInt32(ifNotFinite(qv[2], 0)) AS p75_visible_ms,
        toUInt8(ifNotFinite(qs[1], 0)) AS median_scroll_depth,
        toUInt8(ifNotFinite(qs[2], 0)) AS p75_scroll_depth
    FROM
    (
        SELECT path, quantilesState(0.5, 0.75)(v) AS qv, quantilesState(0.5, 0.75)(s) AS qs
        FROM
        (
            SELECT path, max(visible_ms) AS v, max(scroll) AS s
            FROM agg_pageview_engagement
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day NOT IN (SELECT day FROM rollup_days)
            GROUP BY day, path, pageview_id
        )
        GROUP BY path
        UNION ALL
        SELECT path, visible_ms AS qv, scroll AS qs
        FROM agg_engagement_daily FINAL
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
          AND day IN (SELECT day FROM rollup_days)
    ) AS e
    INNER JOIN
    (
        SELECT path, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_pages_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY path
    ) AS g ON g.path = e.path
    GROUP BY page
) AS q ON q.page = p.page
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY pageviews DESC, page;

-- Page views per deepest-scroll bucket (0, 10, …, 100 %), one count per page view.
CREATE OR REPLACE VIEW v_scroll_depth SQL SECURITY DEFINER AS
SELECT depth, sum(n) AS views, uniqCombinedMerge(12)(st) AS visitors
FROM
(
    SELECT depth, count() AS n, uniqCombinedState(12)(vid) AS st
    FROM
    (
        SELECT any(visitor_id) AS vid, toUInt8(intDiv(max(scroll), 10) * 10) AS depth
        FROM agg_pageview_engagement
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
          AND day NOT IN (SELECT day FROM rollup_days)
        GROUP BY day, pageview_id
    )
    GROUP BY depth
    UNION ALL
    SELECT depth, views AS n, visitors AS st
    FROM agg_scroll_daily FINAL
    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
      AND day IN (SELECT day FROM rollup_days)
)
GROUP BY depth
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY depth;

CREATE OR REPLACE VIEW v_visible_time SQL SECURITY DEFINER AS
SELECT from_s, sum(n) AS views, uniqCombinedMerge(12)(st) AS visitors
FROM
(
    SELECT from_s, count() AS n, uniqCombinedState(12)(vid) AS st
    FROM
    (
        SELECT any(visitor_id) AS vid,
               toUInt16(multiIf(max(visible_ms) < 1000, 0, max(visible_ms) < 3000, 1, max(visible_ms) < 10000, 3,
                                max(visible_ms) < 30000, 10, max(visible_ms) < 60000, 30, max(visible_ms) < 180000, 60, 180)) AS from_s
        FROM agg_pageview_engagement
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
          AND day NOT IN (SELECT day FROM rollup_days)
        GROUP BY day, pageview_id
    )
    GROUP BY from_s
    UNION ALL
    SELECT from_s, views AS n, visitors AS st
    FROM agg_visible_time_daily FINAL
    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
      AND day IN (SELECT day FROM rollup_days)
)
GROUP BY from_s
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY from_s;

CREATE OR REPLACE VIEW v_heatmap SQL SECURITY DEFINER AS
SELECT viewport, cell_x, cell_y, sum(clicks) AS clicks, uniqCombinedMerge(12)(visitors) AS visitors
FROM agg_click_cells
WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
GROUP BY viewport, cell_x, cell_y
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY clicks DESC;

CREATE OR REPLACE VIEW v_click_targets SQL SECURITY DEFINER AS
SELECT target, label, clicks, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, selector, 'other') AS target,
           if(g_visitors >= {{K_ANONYMITY}}, g_label, '') AS label,
           sum(g_clicks) AS clicks, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT selector, label AS g_label, sum(clicks) AS g_clicks, uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_click_targets
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY selector, label
    )
    GROUP BY target, label
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY clicks DESC;

CREATE OR REPLACE VIEW v_devices SQL SECURITY DEFINER AS
SELECT device_type, browser, os, pageviews, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_device, 'other') AS device_type,
           if(g_visitors >= {{K_ANONYMITY}}, g_browser, 'other') AS browser,
           if(g_visitors >= {{K_ANONYMITY}}, g_os, 'other') AS os,
           sum(g_pageviews) AS pageviews, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT device_type AS g_device, browser AS g_browser, os AS g_os, sum(pageviews) AS g_pageviews,
               uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY device_type, browser, os
    )
    GROUP BY device_type, browser, os
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY pageviews DESC;

CREATE OR REPLACE VIEW v_page_devices SQL SECURITY DEFINER AS
SELECT device_type, pageviews, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_device, 'other') AS device_type, sum(g_pageviews) AS pageviews, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT device_type AS g_device, sum(pageviews) AS g_pageviews, uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_page_devices_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
        GROUP BY device_type
    )
    GROUP BY device_type
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY pageviews DESC;

CREATE OR REPLACE VIEW v_sources SQL SECURITY DEFINER AS
SELECT referrer_host, utm_source, utm_medium, utm_campaign, pageviews, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_ref, 'other') AS referrer_host,
           if(g_visitors >= {{K_ANONYMITY}}, g_src, '') AS utm_source,
           if(g_visitors >= {{K_ANONYMITY}}, g_med, '') AS utm_medium,
           if(g_visitors >= {{K_ANONYMITY}}, g_camp, '') AS utm_campaign,
           sum(g_pageviews) AS pageviews, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT referrer_host AS g_ref, utm_source AS g_src, utm_medium AS g_med, utm_campaign AS g_camp,
               sum(pageviews) AS g_pageviews, uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_sources_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY referrer_host, utm_source, utm_medium, utm_campaign
    )
    GROUP BY referrer_host, utm_source, utm_medium, utm_campaign
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY pageviews DESC;

CREATE OR REPLACE VIEW v_custom_events SQL SECURITY DEFINER AS
SELECT name, events, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_name, 'other') AS name, sum(g_events) AS events, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT name AS g_name, sum(events) AS g_events, uniqCombinedMergeState(12)(visitors) AS g_state, uniqCombinedMerge(12)(visitors) AS g_visitors
        FROM agg_custom_daily
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY name
    )
    GROUP BY name
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY events DESC;

-- Entry and exit pages and single-page visits, per visitor-day.
CREATE OR REPLACE VIEW v_entry_exit SQL SECURITY DEFINER AS
SELECT page, entries, exits, bounces, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_page, 'other') AS page,
           sum(g_entries) AS entries, sum(g_exits) AS exits, sum(g_bounces) AS bounces, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT g_page, sum(e) AS g_entries, sum(x) AS g_exits, sum(b) AS g_bounces,
               uniqCombinedMergeState(12)(st) AS g_state, uniqCombinedMerge(12)(st) AS g_visitors
        FROM
        (
            SELECT t.1 AS g_page, sum(t.2) AS e, sum(t.3) AS x, sum(t.4) AS b, uniqCombinedState(12)(vid) AS st
            FROM
            (
                SELECT vid, arrayJoin([(en, 1, 0, toUInt8(pv = 1)), (ex, 0, 1, 0)]) AS t
                FROM
                (
                    SELECT visitor_id AS vid, argMinMerge(entry) AS en, argMaxMerge(exit) AS ex, sum(pageviews) AS pv
                    FROM agg_visitor_days
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id
                )
            )
            GROUP BY g_page
            UNION ALL
            SELECT page AS g_page, entries AS e, exits AS x, bounces AS b, visitors AS st
            FROM agg_entry_exit_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY g_page
    )
    GROUP BY page
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY entries DESC, page;

-- Page-to-page transitions: the next page view of the same visitor on the same day.
CREATE OR REPLACE VIEW v_transitions SQL SECURITY DEFINER AS
SELECT from_page, to_page, transitions, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_from, 'other') AS from_page,
           if(g_visitors >= {{K_ANONYMITY}}, g_to, 'other') AS to_page,
           sum(g_n) AS transitions, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT g_from, g_to, sum(n) AS g_n, uniqCombinedMergeState(12)(st) AS g_state, uniqCombinedMerge(12)(st) AS g_visitors
        FROM
        (
            SELECT g_from, g_to, count() AS n, uniqCombinedState(12)(vid) AS st
            FROM
            (
                SELECT vid, p AS g_from,
                       leadInFrame(p, 1, '') OVER (PARTITION BY day, vid ORDER BY t ASC, pv ASC
                                                   ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS g_to
                FROM
                (
                    SELECT day, visitor_id AS vid, pageview_id AS pv, min(ts) AS t, any(path) AS p
                    FROM agg_visitor_pageviews
                    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                      AND day NOT IN (SELECT day FROM rollup_days)
                    GROUP BY day, visitor_id, pageview_id
                )
            )
            WHERE g_to != ''
            GROUP BY g_from, g_to
            UNION ALL
            SELECT from_page AS g_from, to_page AS g_to, transitions AS n, visitors AS st
            FROM agg_transitions_daily FINAL
            WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
              AND day IN (SELECT day FROM rollup_days)
        )
        GROUP BY g_from, g_to
    )
    GROUP BY from_page, to_page
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY transitions DESC;
