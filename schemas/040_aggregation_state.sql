-- Aggregates off the insert path (issue 15): the state of the background aggregation (src/store/aggregator.ts).
-- From 041 on an insert writes `events` only; the agg_* tables are filled from `events` by runs over ranges of
-- its block numbers, each range exactly once.

-- Each run's plan and progress: a range (lo, hi] of `events` block numbers, recorded as 'planned' before anything
-- is written, 'staged' once its rows are copied into agg_staging (with how many), 'done' once every aggregate
-- table has it. The latest range is the watermark: every block <= hi of a 'done' range is in the aggregates.
-- A run that finds its latest range not 'done' (a crash, a kill, a lost lease) redoes it with the same
-- deduplication tokens, so nothing is counted twice or missed. max_ts: the newest event time in the range
-- (the "data up to" of v_freshness).
CREATE TABLE IF NOT EXISTS agg_runs
(
    lo          UInt64 COMMENT 'the range starts after this events block number',
    hi          UInt64 COMMENT 'and ends with this one (included)',
    step        Enum8('planned' = 1, 'staged' = 2, 'done' = 3) COMMENT 'how far the run of this range got',
    staged_rows UInt64 COMMENT 'rows copied into agg_staging (step staged and done)',
    max_ts      DateTime64(3, 'UTC') COMMENT 'the newest event time aggregated so far (step done)',
    at          DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'when the step was recorded'
)
ENGINE = MergeTree
ORDER BY (lo, hi, step);

-- The event ids already aggregated, for two days (ids are HMACs under a daily salt): a row of a new range whose
-- (site, event_id) is here with a range that ended at or before the new range's start is a re-sent or
-- redelivered event already counted, and is left out. first_range: the hi of the range that counted it (not
-- its block: `events` is a ReplacingMergeTree and a merge may keep a later copy's row and block number).
CREATE TABLE IF NOT EXISTS agg_event_ids
(
    site         LowCardinality(String) COMMENT 'site key',
    day          Date COMMENT 'UTC day of the event',
    event_id     UInt64 COMMENT 'the daily event id hash',
    first_range  SimpleAggregateFunction(min, UInt64) COMMENT 'hi of the first range that aggregated it'
)
ENGINE = AggregatingMergeTree
PARTITION BY day
ORDER BY (site, event_id, day)
TTL day + INTERVAL 3 DAY
SETTINGS index_granularity = 1024;
