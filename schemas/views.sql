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
    SELECT count() AS visitor_days, countIf(pv = 1) AS bounces
    FROM (SELECT sum(pageviews) AS pv FROM agg_visitor_days
          WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
          GROUP BY day, visitor_id)
) AS b
WHERE visitors >= {{K_ANONYMITY}};

CREATE OR REPLACE VIEW v_daily SQL SECURITY DEFINER AS
SELECT day, sum(pageviews) AS pageviews, uniqCombinedMerge(12)(visitors) AS visitors
FROM agg_pages_daily
WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
GROUP BY day
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY day;

-- Dwell time and scroll depth are per page view (the largest running total it reported), from
-- agg_pageview_engagement, so they cover RETENTION_DAYS; page views and visitors cover the aggregates' retention.
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
        quantiles(0.5, 0.75)(e.v) AS qv,
        quantiles(0.5, 0.75)(e.s) AS qs,
        toUInt32(ifNotFinite(qv[1], 0)) AS median_visible_ms,
        toUInt32(ifNotFinite(qv[2], 0)) AS p75_visible_ms,
        toUInt8(ifNotFinite(qs[1], 0)) AS median_scroll_depth,
        toUInt8(ifNotFinite(qs[2], 0)) AS p75_scroll_depth
    FROM
    (
        SELECT path, pageview_id, max(visible_ms) AS v, max(scroll) AS s
        FROM agg_pageview_engagement
        WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY path, pageview_id
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
SELECT depth, count() AS views, uniqCombined(12)(visitor_id) AS visitors
FROM
(
    SELECT pageview_id, any(visitor_id) AS visitor_id, toUInt8(intDiv(max(scroll), 10) * 10) AS depth
    FROM agg_pageview_engagement
    WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date} AND path = {page:String}
    GROUP BY pageview_id
)
GROUP BY depth
HAVING visitors >= {{K_ANONYMITY}}
ORDER BY depth;

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
        SELECT t.1 AS g_page, sum(t.2) AS g_entries, sum(t.3) AS g_exits, sum(t.4) AS g_bounces,
               uniqCombinedState(12)(visitor_id) AS g_state, uniqCombined(12)(visitor_id) AS g_visitors
        FROM
        (
            SELECT visitor_id, arrayJoin([(en, 1, 0, toUInt8(pv = 1)), (ex, 0, 1, 0)]) AS t
            FROM
            (
                SELECT visitor_id, argMinMerge(entry) AS en, argMaxMerge(exit) AS ex, sum(pageviews) AS pv
                FROM agg_visitor_days
                WHERE site = {site:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                GROUP BY day, visitor_id
            )
        )
        GROUP BY g_page
    )
    GROUP BY page
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY entries DESC, page;

-- Page-to-page transitions: the next page view of the same visitor on the same day.
-- Computed from the raw events, so it covers RETENTION_DAYS at most.
CREATE OR REPLACE VIEW v_transitions SQL SECURITY DEFINER AS
SELECT from_page, to_page, transitions, visitors
FROM
(
    SELECT if(g_visitors >= {{K_ANONYMITY}}, g_from, 'other') AS from_page,
           if(g_visitors >= {{K_ANONYMITY}}, g_to, 'other') AS to_page,
           sum(g_n) AS transitions, uniqCombinedMerge(12)(g_state) AS visitors
    FROM
    (
        SELECT g_from, g_to, count() AS g_n, uniqCombinedState(12)(visitor_id) AS g_state, uniqCombined(12)(visitor_id) AS g_visitors
        FROM
        (
            SELECT visitor_id, path AS g_from,
                   leadInFrame(path, 1, '') OVER (PARTITION BY toDate(ts), visitor_id ORDER BY ts ASC
                                                  ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS g_to
            FROM events
            WHERE site = {site:String} AND toDate(ts) BETWEEN {date_from:Date} AND {date_to:Date} AND type = 'pageview'
        )
        WHERE g_to != ''
        GROUP BY g_from, g_to
    )
    GROUP BY from_page, to_page
)
WHERE visitors >= {{K_ANONYMITY}}
ORDER BY transitions DESC;
