-- Which layout sells (issue 13): product impressions, click-through by
-- position, layout experiments, funnels, custom props, per-device page figures.
--
-- 1. `events` gains the tiles and arms the tracker sends (wire format v1,
--    docs/design.md §4.2): an `impression` type (a tile at least half visible
--    for a second, once per page view), the tile of an impression or of a
--    click inside it (item, list, position) and the layout arms of the page
--    view. All are the shop's own constants, kept as lowercase slugs only
--    (src/anonymise/items.ts).
-- 2. Insert-time aggregates like 002/005 (counts, distinct-visitor and
--    network states; network_count filled by the daily rollup): tiles and
--    positions (agg_items_daily) and custom props by key and value
--    (agg_custom_props_daily).
-- 3. Per-visitor-day facts (RETENTION_DAYS, like agg_visitor_days): the
--    steps a visitor-day took (page views, custom events, clicks on tiles) in
--    time order, the arms it was first shown, and its device and network.
--    Experiments and funnels take their goal and steps as query parameters,
--    so they cannot be counted ahead of time; they are counted from these
--    facts when asked (schemas/views.sql, v_experiment and v_funnel), and so
--    answer for RETENTION_DAYS. The network hash keeps the raw-retention
--    rule of the other per-visitor tables (a column TTL, NETWORK_DAYS in
--    src/store/rollup.ts); before it goes, the daily rollup stores the one
--    bit the k rule needs later: `network_rep`, whether the visitor-day is
--    its network's representative that day (the smallest visitor hash among
--    the day's visitors on that network). The representatives in a group are
--    distinct networks, so their number is a lower bound of the group's
--    networks: the k rule stays safe, and can only hide more.
-- 4. Daily rollups (src/store/rollup.ts) for per-device dwell time and scroll
--    depth, and for the folded `(other)` value of custom props.
--
-- Network columns are added with ALTER … ADD COLUMN (a column TTL in CREATE
-- TABLE cannot be rewritten for a cluster: src/store/cluster-ddl.ts).

-- 1. Events.
ALTER TABLE events
    MODIFY COLUMN type Enum8('pageview' = 1, 'click' = 2, 'engagement' = 3, 'custom' = 4, 'impression' = 5),
    ADD COLUMN IF NOT EXISTS item_id LowCardinality(String),
    ADD COLUMN IF NOT EXISTS item_list LowCardinality(String),
    ADD COLUMN IF NOT EXISTS item_pos UInt16,
    ADD COLUMN IF NOT EXISTS variants Map(LowCardinality(String), LowCardinality(String));

-- 2a. Impressions and clicks per tile and position. Each tile event is counted twice: under its item, and
-- under item '' (the position-level row: CTR by position whatever the item), so that each has its own cell.
CREATE TABLE IF NOT EXISTS agg_items_daily
(
    site         LowCardinality(String),
    day          Date,
    list         LowCardinality(String),
    item         LowCardinality(String),
    position     UInt16,
    impressions  SimpleAggregateFunction(sum, UInt64),
    clicks       SimpleAggregateFunction(sum, UInt64),
    visitors     AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, list, item, position)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_items_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_items_daily TO agg_items_daily AS
SELECT site, toDate(ts) AS day, item_list AS list, arrayJoin([item_id, '']) AS item, item_pos AS position,
       countIf(type = 'impression') AS impressions, countIf(type = 'click') AS clicks,
       uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
WHERE type IN ('impression', 'click') AND item_id != ''
GROUP BY site, day, list, item, position;

-- 2b. Custom props by event name, key and value.
CREATE TABLE IF NOT EXISTS agg_custom_props_daily
(
    site      LowCardinality(String),
    day       Date,
    name      LowCardinality(String),
    key       LowCardinality(String),
    value     String,
    events    SimpleAggregateFunction(sum, UInt64),
    visitors  AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, name, key, value)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_custom_props_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_custom_props_daily TO agg_custom_props_daily AS
SELECT site, toDate(ts) AS day, custom_name AS name, key, value,
       count() AS events, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
ARRAY JOIN mapKeys(custom_props) AS key, mapValues(custom_props) AS value
WHERE type = 'custom'
GROUP BY site, day, name, key, value;

-- 3a. Per visitor-day: device class and network (for the k rule of experiments and funnels, and the device
-- of a page view's engagement); network_rep from the daily rollup.
CREATE TABLE IF NOT EXISTS agg_visitor_networks
(
    site         LowCardinality(String),
    day          Date,
    visitor_id   UInt64,
    device_type  SimpleAggregateFunction(max, LowCardinality(String)),
    network_rep  SimpleAggregateFunction(max, UInt8) COMMENT '1 when the visitor-day is its network''s representative that day (the smallest visitor hash on the network), stored by the daily rollup: a lower bound of distinct networks once the network hash is gone'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_visitor_networks
    ADD COLUMN IF NOT EXISTS network SimpleAggregateFunction(max, UInt64) COMMENT 'cityHash64(ip_prefix) of the visitor; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_visitor_networks TO agg_visitor_networks AS
SELECT site, toDate(ts) AS day, visitor_id, max(device_type) AS device_type, max(cityHash64(ip_prefix)) AS network
FROM events
GROUP BY site, day, visitor_id;

-- 3b. Per visitor-day: the steps a funnel or an experiment goal can name, one row per event (page views:
-- the path; custom events: the name; clicks inside a tile: the item), to the second.
CREATE TABLE IF NOT EXISTS agg_visitor_steps
(
    site        LowCardinality(String),
    day         Date,
    visitor_id  UInt64,
    event_id    UInt64,
    ts          DateTime('UTC'),
    kind        Enum8('page' = 1, 'event' = 2, 'item' = 3),
    value       String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, event_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_visitor_steps TO agg_visitor_steps AS
SELECT site, toDate(ts) AS day, visitor_id, event_id, toDateTime(ts, 'UTC') AS ts,
       multiIf(type = 'pageview', 'page', type = 'custom', 'event', 'item') AS kind,
       multiIf(type = 'pageview', path, type = 'custom', custom_name, item_id) AS value
FROM events
WHERE type IN ('pageview', 'custom') OR (type = 'click' AND item_id != '');

-- 3c. Per visitor-day and experiment: the arm it was shown first (ties within a second: the smaller arm name),
-- and when. A visitor-day belongs to the arm of its first exposure.
CREATE TABLE IF NOT EXISTS agg_visitor_arms
(
    site        LowCardinality(String),
    day         Date,
    experiment  LowCardinality(String),
    visitor_id  UInt64,
    arm         AggregateFunction(argMin, String, Tuple(DateTime('UTC'), String)),
    first_seen  SimpleAggregateFunction(min, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, experiment, day, visitor_id)
TTL day + INTERVAL {{RETENTION_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_visitor_arms TO agg_visitor_arms AS
SELECT site, toDate(ts) AS day, kv.1 AS experiment, visitor_id,
       argMinState(toString(kv.2), (toDateTime(ts, 'UTC'), toString(kv.2))) AS arm, min(toDateTime(ts, 'UTC')) AS first_seen
FROM events
ARRAY JOIN arrayZip(mapKeys(variants), mapValues(variants)) AS kv
GROUP BY site, day, experiment, visitor_id;

-- 4. Daily rollups: dwell time and scroll depth per page and device (from agg_pageview_engagement, the device
-- of its visitor from agg_visitor_networks), and the folded value of custom props.
CREATE TABLE IF NOT EXISTS agg_engagement_device_daily
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day',
    path         String COMMENT 'scrubbed page path',
    device_type  LowCardinality(String) COMMENT 'device class of the page views (desktop, mobile, tablet, …)',
    views        UInt64 COMMENT 'page views that reported engagement',
    visible_ms   AggregateFunction(quantiles(0.5, 0.75), UInt32) COMMENT 'quantile state (median, p75) of the largest visible time each page view reported',
    scroll       AggregateFunction(quantiles(0.5, 0.75), UInt8) COMMENT 'quantile state (median, p75) of the deepest scroll each page view reported'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, device_type)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE TABLE IF NOT EXISTS agg_scroll_device_daily
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day',
    path         String COMMENT 'scrubbed page path',
    device_type  LowCardinality(String) COMMENT 'device class of the page views',
    depth        UInt8 COMMENT 'deepest-scroll bucket of a page view, 0, 10, …, 100 %',
    views        UInt64 COMMENT 'page views in the bucket',
    visitors     AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes',
    networks     UInt64 COMMENT 'distinct networks (IP prefixes) of the day in the bucket'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, device_type, depth)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

CREATE TABLE IF NOT EXISTS agg_visible_time_device_daily
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day',
    path         String COMMENT 'scrubbed page path',
    device_type  LowCardinality(String) COMMENT 'device class of the page views',
    from_s       UInt16 COMMENT 'visible-time bucket of a page view, by its lower bound in seconds: 0, 1, 3, 10, 30, 60, 180',
    views        UInt64 COMMENT 'page views in the bucket',
    visitors     AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes',
    networks     UInt64 COMMENT 'distinct networks (IP prefixes) of the day in the bucket'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, device_type, from_s)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- The values of a custom prop hidden by the k rule on a day, pooled: released as `(other)` when the pool itself
-- has k visitors and k networks. Computed by the rollup while the network states exist, for the k it ran under.
CREATE TABLE IF NOT EXISTS agg_custom_props_other_daily
(
    site      LowCardinality(String) COMMENT 'site key',
    day       Date COMMENT 'UTC day',
    name      LowCardinality(String) COMMENT 'custom event name',
    key       LowCardinality(String) COMMENT 'prop key',
    k         UInt16 COMMENT 'the K_ANONYMITY the pool was formed under (values below it)',
    events    UInt64 COMMENT 'events of the pooled values',
    visitors  AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of daily visitor hashes of the pooled values',
    networks  UInt64 COMMENT 'distinct networks (IP prefixes) of the day among the pooled values'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, name, key, k)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH;

-- 5. Backfill the per-visitor-day facts from the events still kept (no item or arm existed before this).
INSERT INTO agg_visitor_networks (site, day, visitor_id, device_type, network)
SELECT site, toDate(ts) AS day, visitor_id, max(device_type), max(cityHash64(ip_prefix))
FROM events GROUP BY site, day, visitor_id;
INSERT INTO agg_visitor_steps (site, day, visitor_id, event_id, ts, kind, value)
SELECT site, toDate(ts) AS day, visitor_id, event_id, toDateTime(ts, 'UTC'), if(type = 'pageview', 'page', 'event'), if(type = 'pageview', path, custom_name)
FROM events WHERE type IN ('pageview', 'custom');
