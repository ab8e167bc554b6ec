-- Aggregates for the layout questions, filled on insert by materialised views.
-- They hold counts, distinct-visitor states and quantile states: no visitor
-- id leaves the events table except in agg_visitor_days, which keeps the raw
-- retention (a daily-salted hash, needed for bounce and entry/exit pages).
-- ORDER BY (site, day, …) so a per-site, per-period query reads few granules.

CREATE TABLE IF NOT EXISTS agg_pages_daily
(
    site        LowCardinality(String),
    day         Date,
    path        String,
    pageviews   SimpleAggregateFunction(sum, UInt64),
    engagements SimpleAggregateFunction(sum, UInt64),
    visitors    AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_pages_daily TO agg_pages_daily AS
SELECT
    site,
    toDate(ts) AS day,
    path,
    countIf(type = 'pageview') AS pageviews,
    countIf(type = 'engagement') AS engagements,
    uniqCombinedState(12)(visitor_id) AS visitors
FROM events
GROUP BY site, day, path;

-- Engagement per page view. The tracker reports a running total (visible time, deepest scroll) each time the
-- page is hidden, left or navigated away from, so one page view may send several reports, and a report may be
-- lost; the page view's figure is the largest one seen. Quantiles and the scroll distribution are taken over
-- page views from here, never over raw reports (which would count a page view once per report and pull the
-- median down). Holds the daily page-view and visitor hashes, so it expires with the raw events.
CREATE TABLE IF NOT EXISTS agg_pageview_engagement
(
    site        LowCardinality(String),
    day         Date,
    path        String,
    pageview_id UInt64,
    visitor_id  SimpleAggregateFunction(any, UInt64),
    visible_ms  SimpleAggregateFunction(max, UInt32),
    scroll      SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, pageview_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_pageview_engagement TO agg_pageview_engagement AS
SELECT site, toDate(ts) AS day, path, pageview_id, any(visitor_id) AS visitor_id,
       max(visible_ms) AS visible_ms, max(least(scroll_depth, 100)) AS scroll
FROM events
WHERE type = 'engagement'
GROUP BY site, day, path, pageview_id;

-- Click heatmap cells: a 50 × n grid of 2 % cells of the viewport width
-- (square cells, so y keeps the page's aspect), per viewport class.
CREATE TABLE IF NOT EXISTS agg_click_cells
(
    site      LowCardinality(String),
    day       Date,
    path      String,
    viewport  LowCardinality(String),
    cell_x    UInt8,
    cell_y    UInt16,
    clicks    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, path, viewport, day, cell_y, cell_x)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_click_cells TO agg_click_cells AS
SELECT
    site,
    toDate(ts) AS day,
    path,
    multiIf(viewport_w = 0, 'unknown', viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
    toUInt8(least(49, intDiv(page_x * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_x,
    toUInt16(least(65535, intDiv(page_y * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_y,
    count() AS clicks,
    uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'click'
GROUP BY site, day, path, viewport, cell_x, cell_y;

-- Clicks per element (selector path) and developer-set label.
CREATE TABLE IF NOT EXISTS agg_click_targets
(
    site      LowCardinality(String),
    day       Date,
    path      String,
    selector  String,
    label     LowCardinality(String),
    clicks    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, label, selector)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_click_targets TO agg_click_targets AS
SELECT site, toDate(ts) AS day, path, click_selector AS selector, click_label AS label,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'click'
GROUP BY site, day, path, selector, label;

-- Device, browser and OS mix (page views).
CREATE TABLE IF NOT EXISTS agg_devices_daily
(
    site         LowCardinality(String),
    day          Date,
    device_type  LowCardinality(String),
    browser      LowCardinality(String),
    os           LowCardinality(String),
    pageviews    SimpleAggregateFunction(sum, UInt64),
    visitors     AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, device_type, browser, os)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_devices_daily TO agg_devices_daily AS
SELECT site, toDate(ts) AS day, device_type, browser, os, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'pageview'
GROUP BY site, day, device_type, browser, os;

-- Per page and device class: where mobile visitors stay and scroll differently.
CREATE TABLE IF NOT EXISTS agg_page_devices_daily
(
    site         LowCardinality(String),
    day          Date,
    path         String,
    device_type  LowCardinality(String),
    pageviews    SimpleAggregateFunction(sum, UInt64),
    visitors     AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, device_type)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_page_devices_daily TO agg_page_devices_daily AS
SELECT site, toDate(ts) AS day, path, device_type, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'pageview'
GROUP BY site, day, path, device_type;

-- Referrer hosts and UTM campaigns (page views).
CREATE TABLE IF NOT EXISTS agg_sources_daily
(
    site           LowCardinality(String),
    day            Date,
    referrer_host  LowCardinality(String),
    utm_source     LowCardinality(String),
    utm_medium     LowCardinality(String),
    utm_campaign   LowCardinality(String),
    pageviews      SimpleAggregateFunction(sum, UInt64),
    visitors       AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, referrer_host, utm_source, utm_medium, utm_campaign)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_sources_daily TO agg_sources_daily AS
SELECT site, toDate(ts) AS day, referrer_host, utm_source, utm_medium, utm_campaign,
       count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'pageview'
GROUP BY site, day, referrer_host, utm_source, utm_medium, utm_campaign;

-- Custom events by name.
CREATE TABLE IF NOT EXISTS agg_custom_daily
(
    site      LowCardinality(String),
    day       Date,
    name      LowCardinality(String),
    events    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, name)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_custom_daily TO agg_custom_daily AS
SELECT site, toDate(ts) AS day, custom_name AS name, count() AS events, uniqCombinedState(12)(visitor_id) AS visitors
FROM events
WHERE type = 'custom'
GROUP BY site, day, name;

-- Per visitor-day: page views, entry and exit page (bounce = one page view).
-- Holds the daily visitor hash, so it expires with the raw events, not the aggregates.
CREATE TABLE IF NOT EXISTS agg_visitor_days
(
    site        LowCardinality(String),
    day         Date,
    visitor_id  UInt64,
    pageviews   SimpleAggregateFunction(sum, UInt64),
    entry       AggregateFunction(argMin, String, DateTime64(3, 'UTC')),
    exit        AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_visitor_days TO agg_visitor_days AS
SELECT site, toDate(ts) AS day, visitor_id, count() AS pageviews,
       argMinState(path, ts) AS entry, argMaxState(path, ts) AS exit
FROM events
WHERE type = 'pageview'
GROUP BY site, day, visitor_id;
