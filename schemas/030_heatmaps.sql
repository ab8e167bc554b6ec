-- Heatmaps an analyst can read (issue 14): true across screen widths, per
-- element and per tracked block, frustration signals.
--
-- 1. `events` gains what the tracker now says about a click (wire format v1,
--    docs/design.md §4.2): where in the product tile it landed (the tile is
--    the event's item, schemas/020), and the frustration the browser judged
--    (a rage click, a dead click). page_x is now stored measured from the
--    document's centre line (src/anonymise/click.ts sanitiseClick), so the
--    cells below mean the same place at every width of a centred layout.
-- 2. Insert-time aggregates like 002/005 (counts, distinct-visitor and network
--    states; network_count filled by the daily rollup):
--    - agg_heatmap_cells: page cells of 20 × 20 CSS px, x counted from the
--      document's centre line (negative to the left), y from the top, per
--      width bucket. `width` names the bucket by the window width the
--      dashboard draws it at: 390 (mobile, < 768 px), 768 (tablet, < 1024),
--      1024, 1280, 1440, 1920 (desktop: 1024–1279, 1280–1439, 1440–1919,
--      1920 and wider). Each desktop click is counted twice: under its width
--      and under width 0 (every desktop width together), so that a cell too
--      thin at each width can still be shown for all of them
--      (schemas/views.sql, v_heatmap_cells: the fallback rule).
--    - agg_heatmap_widths: page views per width bucket (the legend's "per 100
--      page views") and a median-state of the viewport height (the fold line).
--    - agg_heatmap_targets: clicked elements per width bucket, with rage and
--      dead clicks.
--    - agg_element_cells: which part of an element, and of a product tile (all
--      tiles of a list together), is clicked: fifths of the box's width and
--      height.
--    - agg_page_frustration: rage and dead clicks per page.
--    - agg_click_targets gains rage_clicks and dead_clicks.
-- 3. A daily rollup of quick backs (a page view followed within 5 s by a page
--    view of the page the visitor came from), counted from the visitor's page
--    views like the transitions (agg_visitor_pageviews; src/store/rollup.ts).
--
-- The width buckets below (multiIf on viewport_w) are the same expression in
-- each materialised view that has one; src/store/heatmaps.integration.test.ts
-- checks that the three agree.
--
-- Network columns are added with ALTER … ADD COLUMN (a column TTL in CREATE
-- TABLE cannot be rewritten for a cluster: src/store/cluster-ddl.ts).

-- 1. Events.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS block_x Float32,
    ADD COLUMN IF NOT EXISTS block_y Float32,
    ADD COLUMN IF NOT EXISTS click_rage UInt8,
    ADD COLUMN IF NOT EXISTS click_dead UInt8;

-- 2a. Page cells per width bucket.
CREATE TABLE IF NOT EXISTS agg_heatmap_cells
(
    site      LowCardinality(String),
    day       Date,
    path      String,
    viewport  LowCardinality(String),
    width     UInt16,
    cell_x    Int16,
    cell_y    UInt16,
    clicks    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, path, viewport, width, day, cell_y, cell_x)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_heatmap_cells
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_heatmap_cells TO agg_heatmap_cells AS
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       toInt16(greatest(-32768, least(32767, floor((toInt64(page_x) - intDiv(viewport_w, 2)) / 20)))) AS cell_x,
       toUInt16(least(65535, intDiv(page_y, 20))) AS cell_y,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click' AND viewport_w > 0
GROUP BY site, day, path, viewport, width, cell_x, cell_y;

-- 2b. Page views and viewport heights per width bucket.
CREATE TABLE IF NOT EXISTS agg_heatmap_widths
(
    site       LowCardinality(String),
    day        Date,
    path       String,
    viewport   LowCardinality(String),
    width      UInt16,
    pageviews  SimpleAggregateFunction(sum, UInt64),
    heights    AggregateFunction(quantile(0.5), UInt16),
    visitors   AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, path, viewport, width, day)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_heatmap_widths
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_heatmap_widths TO agg_heatmap_widths AS
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       count() AS pageviews, quantileState(0.5)(viewport_h) AS heights,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'pageview' AND viewport_w > 0
GROUP BY site, day, path, viewport, width;

-- 2c. Clicked elements per width bucket.
CREATE TABLE IF NOT EXISTS agg_heatmap_targets
(
    site         LowCardinality(String),
    day          Date,
    path         String,
    viewport     LowCardinality(String),
    width        UInt16,
    selector     String,
    label        LowCardinality(String),
    clicks       SimpleAggregateFunction(sum, UInt64),
    rage_clicks  SimpleAggregateFunction(sum, UInt64),
    dead_clicks  SimpleAggregateFunction(sum, UInt64),
    visitors     AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, path, viewport, width, day, label, selector)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_heatmap_targets
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_heatmap_targets TO agg_heatmap_targets AS
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       click_selector AS selector, click_label AS label,
       count() AS clicks, sum(click_rage) AS rage_clicks, sum(click_dead) AS dead_clicks,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click' AND viewport_w > 0
GROUP BY site, day, path, viewport, width, selector, label;

-- 2d. Which part of an element (frame 'element': the clicked element itself) and of a product tile (frame
-- 'tile': every tile of a list together, named by the list) is clicked: cells of a fifth of the box, 0–4 across
-- and down.
CREATE TABLE IF NOT EXISTS agg_element_cells
(
    site      LowCardinality(String),
    day       Date,
    path      String,
    frame     LowCardinality(String),
    element   String,
    label     LowCardinality(String),
    cell_x    UInt8,
    cell_y    UInt8,
    clicks    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, path, frame, element, label, day, cell_y, cell_x)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_element_cells
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_element_cells TO agg_element_cells AS
SELECT site, toDate(ts) AS day, path, f.1 AS frame, f.2 AS element, click_label AS label,
       toUInt8(least(4, floor(f.3 * 5))) AS cell_x, toUInt8(least(4, floor(f.4 * 5))) AS cell_y,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
ARRAY JOIN arrayFilter(t -> t.2 != '', [('element', click_selector, click_x, click_y), ('tile', if(item_id = '', '', if(item_list = '', '(no list)', item_list)), block_x, block_y)]) AS f
WHERE type = 'click'
GROUP BY site, day, path, frame, element, label, cell_x, cell_y;

-- 2e. Rage and dead clicks per page.
CREATE TABLE IF NOT EXISTS agg_page_frustration
(
    site      LowCardinality(String),
    day       Date,
    path      String,
    signal    LowCardinality(String),
    clicks    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, signal)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_page_frustration
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_page_frustration TO agg_page_frustration AS
SELECT site, toDate(ts) AS day, path, signal,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
ARRAY JOIN arrayFilter(s -> s != '', [if(click_rage = 1, 'rage', ''), if(click_dead = 1, 'dead', '')]) AS signal
WHERE type = 'click' AND (click_rage = 1 OR click_dead = 1)
GROUP BY site, day, path, signal;

-- 2f. Rage and dead clicks per element (all widths).
ALTER TABLE agg_click_targets
    ADD COLUMN IF NOT EXISTS rage_clicks SimpleAggregateFunction(sum, UInt64) COMMENT 'rage clicks (the third of 3 clicks within 1 s and 30 px)',
    ADD COLUMN IF NOT EXISTS dead_clicks SimpleAggregateFunction(sum, UInt64) COMMENT 'dead clicks (no DOM or focus change within 1 s after a click on a non-control)';

DROP VIEW IF EXISTS mv_click_targets;
CREATE MATERIALIZED VIEW mv_click_targets TO agg_click_targets AS
SELECT site, toDate(ts) AS day, path, click_selector AS selector, click_label AS label,
       count() AS clicks, sum(click_rage) AS rage_clicks, sum(click_dead) AS dead_clicks,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click'
GROUP BY site, day, path, selector, label;

-- 3. Quick backs per page, rolled up from agg_visitor_pageviews (src/store/rollup.ts, the same expressions as
-- the recent-day branch of v_quick_backs).
CREATE TABLE IF NOT EXISTS agg_quick_backs_daily
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day',
    page         String COMMENT 'scrubbed page path left quickly',
    quick_backs  UInt64 COMMENT 'page views of the page followed within 5 s by a page view of the page the visitor came from',
    visitors     AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes',
    networks     UInt64 COMMENT 'distinct networks (IP prefixes) of the day that went back quickly'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, page)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- 4. The days not rolled up yet (their network states still exist): their clicks and page views, stored before
-- this migration, in the new aggregates. Older days have no network count there and stay hidden.
INSERT INTO agg_heatmap_cells (site, day, path, viewport, width, cell_x, cell_y, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       toInt16(greatest(-32768, least(32767, floor((toInt64(page_x) - intDiv(viewport_w, 2)) / 20)))) AS cell_x,
       toUInt16(least(65535, intDiv(page_y, 20))) AS cell_y,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click' AND viewport_w > 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, path, viewport, width, cell_x, cell_y;
INSERT INTO agg_heatmap_widths (site, day, path, viewport, width, pageviews, heights, visitors, networks)
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       count() AS pageviews, quantileState(0.5)(viewport_h) AS heights,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'pageview' AND viewport_w > 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, path, viewport, width;
INSERT INTO agg_heatmap_targets (site, day, path, viewport, width, selector, label, clicks, rage_clicks, dead_clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path,
       multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport,
       arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768],
                         [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width,
       click_selector AS selector, click_label AS label,
       count() AS clicks, sum(click_rage) AS rage_clicks, sum(click_dead) AS dead_clicks,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type = 'click' AND viewport_w > 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, path, viewport, width, selector, label;
INSERT INTO agg_element_cells (site, day, path, frame, element, label, cell_x, cell_y, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, f.1 AS frame, f.2 AS element, click_label AS label,
       toUInt8(least(4, floor(f.3 * 5))) AS cell_x, toUInt8(least(4, floor(f.4 * 5))) AS cell_y,
       count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
ARRAY JOIN arrayFilter(t -> t.2 != '', [('element', click_selector, click_x, click_y), ('tile', if(item_id = '', '', if(item_list = '', '(no list)', item_list)), block_x, block_y)]) AS f
WHERE type = 'click' AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, path, frame, element, label, cell_x, cell_y;
