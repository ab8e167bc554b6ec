-- Pages by their allowlisted query parameters (issue 13). A shop whose product
-- pages are one path told apart by a parameter (the demo's /demo/product?sku=…)
-- needs them to see page views per product. Only the parameters kept by the
-- anonymiser reach `events.query` (QUERY_ALLOWLIST and the site's `query`, values
-- as lowercase slugs or a placeholder: src/anonymise/url.ts), as `k=v&k2=v2`.
-- An insert-time aggregate like 002/005 (network states reset after
-- NETWORK_DAYS, network_count stored by the daily rollup).
CREATE TABLE IF NOT EXISTS agg_page_params_daily
(
    site       LowCardinality(String),
    day        Date,
    path       String,
    param      LowCardinality(String),
    value      String,
    pageviews  SimpleAggregateFunction(sum, UInt64),
    visitors   AggregateFunction(uniqCombined(12), UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, path, param, value)
TTL day + INTERVAL {{AGGREGATE_RETENTION_MONTHS}} MONTH
SETTINGS non_replicated_deduplication_window = 1000;

ALTER TABLE agg_page_params_daily
    ADD COLUMN IF NOT EXISTS networks AggregateFunction(uniqCombined(12), UInt64) COMMENT 'distinct-count state of cityHash64(ip_prefix): networks of the day; reset after NETWORK_DAYS' TTL day + INTERVAL {{RETENTION_DAYS}} DAY,
    ADD COLUMN IF NOT EXISTS network_count SimpleAggregateFunction(max, UInt64) COMMENT 'distinct networks of the day, stored by the daily rollup (src/store/rollup.ts)';

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_page_params_daily TO agg_page_params_daily AS
SELECT site, toDate(ts) AS day, path, kv[1] AS param, decodeURLComponent(kv[2]) AS value,
       count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM events
ARRAY JOIN arrayMap(p -> splitByChar('=', p), splitByChar('&', query)) AS kv
WHERE type = 'pageview' AND query != ''
GROUP BY site, day, path, param, value;

-- Backfill from the page views still kept (their network states exist only where ip_prefix does).
INSERT INTO agg_page_params_daily (site, day, path, param, value, pageviews, visitors, networks)
SELECT site, toDate(ts) AS day, path, kv[1] AS param, decodeURLComponent(kv[2]) AS value,
       count(), uniqCombinedState(12)(visitor_id), uniqCombinedState(12)(cityHash64(ip_prefix))
FROM events
ARRAY JOIN arrayMap(p -> splitByChar('=', p), splitByChar('&', query)) AS kv
WHERE type = 'pageview' AND query != ''
GROUP BY site, day, path, param, value;
