-- k counts people, not browsers: every aggregate the analyst views read also
-- counts distinct networks (the truncated IP prefix, /24 or /48), so that a
-- group is shown only with at least k distinct visitors AND k distinct
-- networks on the same UTC day (schemas/views.sql). Four User-Agents behind
-- one address are four daily visitor hashes but one network.
--
-- Where network identities live, and for how long:
--   - insert-time aggregates (25-month tables): `networks`, a distinct-count
--     state of cityHash64(ip_prefix). Its small-set form holds the hashes
--     themselves, and a prefix hash is easy to reverse (2^24 prefixes), so
--     the column has a TTL of RETENTION_DAYS, like the raw events that hold
--     ip_prefix itself: after that a merge resets it to an empty state.
--     Before that, the daily rollup (src/store/rollup.ts) stores the day's
--     count of networks per group in `network_count` (a number, kept 25
--     months); the views take the larger of the two.
--   - per-visitor intermediate tables (RETENTION_DAYS already): `network`,
--     the hash of the visitor's prefix (a visitor hash covers one full IP, so
--     one network).
--   - daily rollup tables: `networks`, the count of the day's networks.
--
-- Existing stores: the views are re-created by this migration's MVs; rows
-- already stored get their network states from `events` (as far back as
-- RETENTION_DAYS keeps them), and days already rolled up whose intermediate
-- rows still exist are rolled up again (with network counts) at the next
-- start. Groups of older days have no network count and stay hidden.

-- 1. Insert-time aggregates: a network state (raw retention) and a network count (filled by the rollup).
ALTER TABLE agg_pages_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_click_cells
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_click_targets
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_devices_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_page_devices_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_sources_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';
ALTER TABLE agg_custom_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after RETENTION_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

-- 2. Per-visitor intermediate tables (RETENTION_DAYS): the visitor's network.
ALTER TABLE agg_pageview_engagement ADD COLUMN IF NOT EXISTS network SimpleAggregateFunction(max, UInt64) COMMENT 'cityHash64(ip_prefix) of the page view''s visitor';
ALTER TABLE agg_visitor_days ADD COLUMN IF NOT EXISTS network SimpleAggregateFunction(max, UInt64) COMMENT 'cityHash64(ip_prefix) of the visitor';
ALTER TABLE agg_visitor_pageviews ADD COLUMN IF NOT EXISTS network UInt64 COMMENT 'cityHash64(ip_prefix) of the visitor';

-- 3. Daily rollup tables: the day's count of distinct networks per group.
ALTER TABLE agg_scroll_daily ADD COLUMN IF NOT EXISTS networks UInt64 COMMENT 'distinct networks (IP prefixes) of the day in the bucket';
ALTER TABLE agg_visible_time_daily ADD COLUMN IF NOT EXISTS networks UInt64 COMMENT 'distinct networks (IP prefixes) of the day in the bucket';
ALTER TABLE agg_entry_exit_daily ADD COLUMN IF NOT EXISTS networks UInt64 COMMENT 'distinct networks (IP prefixes) of the day entering or leaving on the page';
ALTER TABLE agg_transitions_daily ADD COLUMN IF NOT EXISTS networks UInt64 COMMENT 'distinct networks (IP prefixes) of the day that made the step';

-- 4. The materialised views, re-created with the network column (inserts do not run during migrations).
DROP VIEW IF EXISTS mv_pages_daily;
CREATE MATERIALIZED VIEW mv_pages_daily TO agg_pages_daily AS
SELECT
    site,
    toDate(ts) AS day,
    path,
    countIf(type = 'pageview') AS pageviews,
    countIf(type = 'engagement') AS engagements,
    uniqCombinedState(12)(visitor_id) AS visitors,
    uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
GROUP BY site, day, path;

DROP VIEW IF EXISTS mv_click_cells;
CREATE MATERIALIZED VIEW mv_click_cells TO agg_click_cells AS
SELECT
    site,
    toDate(ts) AS day,
    path,
    multiIf(viewport_w = 0, 'unknown', viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
    toUInt8(least(49, intDiv(page_x * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_x,
    toUInt16(least(65535, intDiv(page_y * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_y,
    count() AS clicks,
    uniqCombinedState(12)(visitor_id) AS visitors,
    uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click'
GROUP BY site, day, path, viewport, cell_x, cell_y;

DROP VIEW IF EXISTS mv_click_targets;
CREATE MATERIALIZED VIEW mv_click_targets TO agg_click_targets AS
SELECT site, toDate(ts) AS day, path, click_selector AS selector, click_label AS label,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click'
GROUP BY site, day, path, selector, label;

DROP VIEW IF EXISTS mv_devices_daily;
CREATE MATERIALIZED VIEW mv_devices_daily TO agg_devices_daily AS
SELECT site, toDate(ts) AS day, device_type, browser, os, count() AS pageviews,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'pageview'
GROUP BY site, day, device_type, browser, os;

DROP VIEW IF EXISTS mv_page_devices_daily;
CREATE MATERIALIZED VIEW mv_page_devices_daily TO agg_page_devices_daily AS
SELECT site, toDate(ts) AS day, path, device_type, count() AS pageviews,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'pageview'
GROUP BY site, day, path, device_type;

DROP VIEW IF EXISTS mv_sources_daily;
CREATE MATERIALIZED VIEW mv_sources_daily TO agg_sources_daily AS
SELECT site, toDate(ts) AS day, referrer_host, utm_source, utm_medium, utm_campaign,
       count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'pageview'
GROUP BY site, day, referrer_host, utm_source, utm_medium, utm_campaign;

DROP VIEW IF EXISTS mv_custom_daily;
CREATE MATERIALIZED VIEW mv_custom_daily TO agg_custom_daily AS
SELECT site, toDate(ts) AS day, custom_name AS name, count() AS events,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'custom'
GROUP BY site, day, name;

DROP VIEW IF EXISTS mv_pageview_engagement;
CREATE MATERIALIZED VIEW mv_pageview_engagement TO agg_pageview_engagement AS
SELECT site, toDate(ts) AS day, path, pageview_id, any(visitor_id) AS visitor_id, max(cityHash64(ip_prefix)) AS network,
       max(visible_ms) AS visible_ms, max(least(scroll_depth, 100)) AS scroll
FROM events
WHERE type = 'engagement'
GROUP BY site, day, path, pageview_id;

DROP VIEW IF EXISTS mv_visitor_days;
CREATE MATERIALIZED VIEW mv_visitor_days TO agg_visitor_days AS
SELECT site, toDate(ts) AS day, visitor_id, count() AS pageviews, max(cityHash64(ip_prefix)) AS network,
       argMinState(path, ts) AS entry, argMaxState(path, ts) AS exit
FROM events
WHERE type = 'pageview'
GROUP BY site, day, visitor_id;

DROP VIEW IF EXISTS mv_visitor_pageviews;
CREATE MATERIALIZED VIEW mv_visitor_pageviews TO agg_visitor_pageviews AS
SELECT site, toDate(ts) AS day, visitor_id, pageview_id, ts, path, cityHash64(ip_prefix) AS network
FROM events
WHERE type = 'pageview';

-- 5. Backfill from the events still kept: zero counts and empty visitor states, so merges add only the networks.
INSERT INTO agg_pages_daily (site, day, path, networks)
SELECT site, toDate(ts) AS day, path, uniqCombinedState(12)(cityHash64(ip_prefix)) FROM events GROUP BY site, day, path;
INSERT INTO agg_click_cells (site, day, path, viewport, cell_x, cell_y, networks)
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w = 0, 'unknown', viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       toUInt8(least(49, intDiv(page_x * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_x,
       toUInt16(least(65535, intDiv(page_y * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_y,
       uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'click' GROUP BY site, day, path, viewport, cell_x, cell_y;
INSERT INTO agg_click_targets (site, day, path, selector, label, networks)
SELECT site, toDate(ts) AS day, path, click_selector AS selector, click_label AS label, uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'click' GROUP BY site, day, path, selector, label;
INSERT INTO agg_devices_daily (site, day, device_type, browser, os, networks)
SELECT site, toDate(ts) AS day, device_type, browser, os, uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'pageview' GROUP BY site, day, device_type, browser, os;
INSERT INTO agg_page_devices_daily (site, day, path, device_type, networks)
SELECT site, toDate(ts) AS day, path, device_type, uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'pageview' GROUP BY site, day, path, device_type;
INSERT INTO agg_sources_daily (site, day, referrer_host, utm_source, utm_medium, utm_campaign, networks)
SELECT site, toDate(ts) AS day, referrer_host, utm_source, utm_medium, utm_campaign, uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'pageview' GROUP BY site, day, referrer_host, utm_source, utm_medium, utm_campaign;
INSERT INTO agg_custom_daily (site, day, name, networks)
SELECT site, toDate(ts) AS day, custom_name AS name, uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events WHERE type = 'custom' GROUP BY site, day, name;
INSERT INTO agg_pageview_engagement (site, day, path, pageview_id, visitor_id, network)
SELECT site, toDate(ts) AS day, path, pageview_id, any(visitor_id), max(cityHash64(ip_prefix))
FROM events WHERE type = 'engagement' GROUP BY site, day, path, pageview_id;
INSERT INTO agg_visitor_days (site, day, visitor_id, network)
SELECT site, toDate(ts) AS day, visitor_id, max(cityHash64(ip_prefix))
FROM events WHERE type = 'pageview' GROUP BY site, day, visitor_id;
INSERT INTO agg_visitor_pageviews (site, day, visitor_id, pageview_id, ts, path, network)
SELECT site, toDate(ts) AS day, visitor_id, pageview_id, ts, path, cityHash64(ip_prefix)
FROM events WHERE type = 'pageview';

-- 6. Days already rolled up whose intermediate rows still exist are rolled up again, now with network counts.
ALTER TABLE rollup_days DELETE WHERE day IN (SELECT DISTINCT day FROM agg_visitor_days) SETTINGS mutations_sync = 2;
