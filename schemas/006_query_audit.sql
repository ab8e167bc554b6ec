-- The audit trail of POST /query (src/query/router.ts, src/store/audit.ts):
-- one row per query, who asked what and what came of it. Readable by admins
-- only (the analyst guard admits v_* views alone; in server mode the analyst
-- user has no grant on it). Kept 400 days: a year of reviews plus a margin.
-- It holds no visitor data: the SQL text an analyst wrote, and counts.
CREATE TABLE IF NOT EXISTS query_audit
(
    at          DateTime64(3, 'UTC') COMMENT 'when the query was received',
    query_id    String COMMENT 'the id quoted in the answer and in the server log',
    who         LowCardinality(String) COMMENT 'the credential name (npm run tokens -- list), or bootstrap:analyst / bootstrap:admin for ANALYST_TOKEN / ADMIN_TOKEN',
    role        LowCardinality(String) COMMENT 'analyst or admin',
    sql         String COMMENT 'the SQL text as received (at most 64 KiB)',
    format      LowCardinality(String) COMMENT 'the requested output format',
    status      LowCardinality(String) COMMENT 'ok, refused (by the guard), failed, timeout, too_large, cancelled (client went away) or busy (429)',
    reason      String COMMENT 'why it was refused or failed: the guard rule or the ClickHouse error name; empty when ok',
    rows        UInt64 COMMENT 'rows returned (0 where the engine does not say)',
    bytes       UInt64 COMMENT 'bytes of result sent',
    duration_ms UInt32 COMMENT 'from receipt to the last byte sent'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY at
TTL toDateTime(at) + INTERVAL 400 DAY;
