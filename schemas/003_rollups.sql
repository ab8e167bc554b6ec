-- Daily rollups: every analyst question answerable for AGGREGATE_RETENTION_MONTHS.
--
-- Decision. Some questions are about a page view or a visitor-day as a whole:
-- the largest visible time / scroll depth a page view reported (median, p75,
-- scroll distribution), bounce (one page view in the visitor-day), entry and
-- exit pages, and page-to-page transitions (the next page view of the visitor
-- that day). A materialised view fires once per insert block, and one page
-- view or visitor-day is spread over many blocks, so these cannot be counted
-- exactly at insert time. They are therefore computed in two steps:
--
--   1. Insert time: materialised views keep per-page-view and per-visitor-day
--      facts in short-lived intermediate tables (agg_pageview_engagement and
--      agg_visitor_days from 002, agg_visitor_pageviews below). These hold the
--      daily-salted visitor and page-view hashes, so they expire with the raw
--      events (RETENTION_DAYS).
--   2. Daily rollup (rollupFinishedDays in src/store/rollup.ts, run at start and hourly by
--      the process that writes): each finished UTC day (day <= today - 2, so
--      late events and yesterday's salt are settled) that is not yet in
--      rollup_days is summarised into the agg_*_daily tables below, which hold
--      only counts, quantile states and distinct-visitor states and keep the
--      aggregate retention (AGGREGATE_RETENTION_MONTHS). The day is then
--      recorded in rollup_days.
--
-- Reading: the analyst views (schemas/views.sql) read, for each day of the
-- period, the rollup when the day is in rollup_days and the intermediate
-- tables otherwise; never both, never the events table. A day's answer is the
-- same before and after its rollup (test/analyst-docs.integration.test.ts).
--
-- Idempotency: the rollup tables are ReplacingMergeTree keyed on their whole
-- group key, and the views read them with FINAL, so rolling a day up twice (a
-- crash before rollup_days was written, two processes at once) replaces rows
-- instead of adding them.
--
-- Events that arrive for a day after it was rolled up stay in the insert-time
-- aggregates (page views, visitors, clicks, …) but not in the rollups; with
-- server receive time as the event time that takes a queue backlog of more
-- than a day. A day can only be rolled up while its intermediate rows exist,
-- so RETENTION_DAYS must be at least 3 for the rollups to be filled.

-- Page views in visit order, per visitor-day (for transitions). One row per
-- page view: ReplacingMergeTree on pageview_id, so a redelivered page view
-- counts once. Holds the daily visitor hash: raw retention.
CREATE TABLE IF NOT EXISTS agg_visitor_pageviews
(
    site        LowCardinality(String),
    day         Date,
    visitor_id  UInt64,
    pageview_id UInt64,
    ts          DateTime64(3, 'UTC'),
    path        String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, pageview_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_visitor_pageviews TO agg_visitor_pageviews AS
SELECT site, toDate(ts) AS day, visitor_id, pageview_id, ts, path
FROM events
WHERE type = 'pageview';

-- Backfill from the page views already stored (collapses with any row the view wrote meanwhile).
INSERT INTO agg_visitor_pageviews (site, day, visitor_id, pageview_id, ts, path)
SELECT site, toDate(ts) AS day, visitor_id, pageview_id, ts, path
FROM events
WHERE type = 'pageview';

-- The UTC days whose intermediate data has been rolled up.
CREATE TABLE IF NOT EXISTS rollup_days
(
    day       Date COMMENT 'a UTC day whose intermediate rows were rolled up',
    rolled_at DateTime DEFAULT now() COMMENT 'when it was rolled up'
)
ENGINE = ReplacingMergeTree
ORDER BY day
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- Visible time and scroll depth per page and day: quantile states over page
-- views (each page view once, with the largest total it reported).
CREATE TABLE IF NOT EXISTS agg_engagement_daily
(
    site        LowCardinality(String) COMMENT 'site key',
    day         Date COMMENT 'UTC day',
    path        String COMMENT 'scrubbed page path',
    views       UInt64 COMMENT 'page views that reported engagement',
    visible_ms  AggregateFunction(quantiles(0.5, 0.75), UInt32) COMMENT 'quantile state (median, p75) of the largest visible time each page view reported',
    scroll      AggregateFunction(quantiles(0.5, 0.75), UInt8) COMMENT 'quantile state (median, p75) of the deepest scroll each page view reported'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- Page views per deepest-scroll bucket (0, 10, …, 100 %), per page and day.
CREATE TABLE IF NOT EXISTS agg_scroll_daily
(
    site      LowCardinality(String) COMMENT 'site key',
    day       Date COMMENT 'UTC day',
    path      String COMMENT 'scrubbed page path',
    depth     UInt8 COMMENT 'deepest-scroll bucket of a page view, 0, 10, …, 100 %',
    views     UInt64 COMMENT 'page views in the bucket',
    visitors  AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, depth)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- Page stay per page view, in buckets named by their lower bound in seconds
-- (0–1 s, 1–3 s, 3–10 s, 10–30 s, 30–60 s, 1–3 min, 3 min or more).
CREATE TABLE IF NOT EXISTS agg_visible_time_daily
(
    site      LowCardinality(String) COMMENT 'site key',
    day       Date COMMENT 'UTC day',
    path      String COMMENT 'scrubbed page path',
    from_s    UInt16 COMMENT 'visible-time bucket of a page view, by its lower bound in seconds: 0, 1, 3, 10, 30, 60, 180',
    views     UInt64 COMMENT 'page views in the bucket',
    visitors  AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, from_s)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- Entry pages, exit pages and bounces (visitor-days with one page view), per
-- page and day. Summed over pages: entries = visitor-days.
CREATE TABLE IF NOT EXISTS agg_entry_exit_daily
(
    site      LowCardinality(String) COMMENT 'site key',
    day       Date COMMENT 'UTC day',
    page      String COMMENT 'scrubbed page path',
    entries   UInt64 COMMENT 'visitor-days whose first page view was this page',
    exits     UInt64 COMMENT 'visitor-days whose last page view was this page',
    bounces   UInt64 COMMENT 'visitor-days with a single page view, on this page',
    visitors  AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, page)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- Page-to-page transitions (the next page view of the visitor that day), per day.
CREATE TABLE IF NOT EXISTS agg_transitions_daily
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day',
    from_page    String COMMENT 'scrubbed page path',
    to_page      String COMMENT 'the next page path viewed by the same visitor that day',
    transitions  UInt64 COMMENT 'page views of from_page followed by to_page',
    visitors     AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, from_page, to_page)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;
