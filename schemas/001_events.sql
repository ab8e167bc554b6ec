-- The anonymised events: the only place event data is kept.
-- Every column is already anonymised by the worker (see docs/privacy or
-- `npm run privacy-report`); nothing here identifies a person.
--
-- ORDER BY starts with site, day and page path because analysts ask per site,
-- per page, per period; event_id last makes ReplacingMergeTree collapse a
-- redelivered event (exactly-once in the table, with FINAL or after merges).
-- ts is the server receive time, so duplicates share the whole sorting key.
CREATE TABLE IF NOT EXISTS events
(
    site            LowCardinality(String),
    ts              DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    type            Enum8('pageview' = 1, 'click' = 2, 'engagement' = 3, 'custom' = 4),
    event_id        UInt64,
    pageview_id     UInt64,
    visitor_id      UInt64,
    host            LowCardinality(String),
    path            String CODEC(ZSTD(1)),
    query           String CODEC(ZSTD(1)),
    utm_source      LowCardinality(String),
    utm_medium      LowCardinality(String),
    utm_campaign    LowCardinality(String),
    utm_term        LowCardinality(String),
    utm_content     LowCardinality(String),
    referrer_host   LowCardinality(String),
    referrer_path   String CODEC(ZSTD(1)),
    ip_prefix       String CODEC(ZSTD(1)),
    browser         LowCardinality(String),
    browser_major   LowCardinality(String),
    os              LowCardinality(String),
    os_major        LowCardinality(String),
    device_type     LowCardinality(String),
    device_vendor   LowCardinality(String),
    language        LowCardinality(String),
    viewport_w      UInt16,
    viewport_h      UInt16,
    click_selector  String CODEC(ZSTD(1)),
    click_label     LowCardinality(String),
    click_x         Float32,
    click_y         Float32,
    page_x          UInt32,
    page_y          UInt32,
    visible_ms      UInt32,
    scroll_depth    UInt8,
    custom_name     LowCardinality(String),
    custom_props    Map(LowCardinality(String), String),
    INDEX event_id_bf event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site, toDate(ts), path, type, event_id)
TTL toDateTime(ts) + INTERVAL {{RETENTION_DAYS}} DAY
SETTINGS non_replicated_deduplication_window = 1000;
