-- The distribution of page stay: how many page views stayed visible 0–1 s,
-- 1–3 s, 3–10 s, 10–30 s, 30–60 s, 1–3 min, 3 min or more (bucket named by
-- its lower bound in seconds). Like scroll depth it needs each page view's
-- largest report, so it is read from agg_pageview_engagement for recent days
-- and kept for AGGREGATE_RETENTION_MONTHS by the daily rollup
-- (src/store/rollup.ts), as decided in 003.
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

-- Days rolled up before this table existed, while their page views are still kept.
INSERT INTO agg_visible_time_daily (site, day, path, from_s, views, visitors)
SELECT site, day, path, from_s, count() AS views, uniqCombinedState(12)(vid) AS visitors
FROM
(
    SELECT site, day, path, pageview_id, any(visitor_id) AS vid,
           toUInt16(multiIf(max(visible_ms) < 1000, 0, max(visible_ms) < 3000, 1, max(visible_ms) < 10000, 3,
                            max(visible_ms) < 30000, 10, max(visible_ms) < 60000, 30, max(visible_ms) < 180000, 60, 180)) AS from_s
    FROM agg_pageview_engagement
    WHERE day IN (SELECT day FROM rollup_days)
    GROUP BY site, day, path, pageview_id
)
GROUP BY site, day, path, from_s;
