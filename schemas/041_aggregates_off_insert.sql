-- Aggregates off the insert path (issue 15). The materialised views halved the insert rate (each insert into
-- `events` fired 21 of them), and they were not atomic with it: ClickHouse writes the `events` part and the
-- views' parts one after another, so a crash in between left aggregates short, and a retried insert whose
-- `events` block was deduplicated skipped its views. From here the insert writes `events` only and the
-- aggregates are computed from `events` in the background (src/store/aggregator.ts, the SELECTs in
-- schemas/aggregates.sql), range by range of `events` block numbers, each range exactly once.
--
-- Single node only: on a ClickHouse cluster (CLICKHOUSE_CLUSTER) this migration is skipped and the views stay,
-- since block numbers of replicated tables do not give a watermark (docs/scaling.md).
--
-- Inserts do not run during migrations: every row stored so far was counted by the views.

DROP VIEW IF EXISTS mv_pages_daily;
DROP VIEW IF EXISTS mv_pageview_engagement;
DROP VIEW IF EXISTS mv_click_cells;
DROP VIEW IF EXISTS mv_click_targets;
DROP VIEW IF EXISTS mv_devices_daily;
DROP VIEW IF EXISTS mv_page_devices_daily;
DROP VIEW IF EXISTS mv_sources_daily;
DROP VIEW IF EXISTS mv_custom_daily;
DROP VIEW IF EXISTS mv_visitor_days;
DROP VIEW IF EXISTS mv_visitor_pageviews;
DROP VIEW IF EXISTS mv_items_daily;
DROP VIEW IF EXISTS mv_custom_props_daily;
DROP VIEW IF EXISTS mv_visitor_networks;
DROP VIEW IF EXISTS mv_visitor_steps;
DROP VIEW IF EXISTS mv_visitor_arms;
DROP VIEW IF EXISTS mv_page_params_daily;
DROP VIEW IF EXISTS mv_heatmap_cells;
DROP VIEW IF EXISTS mv_heatmap_widths;
DROP VIEW IF EXISTS mv_heatmap_targets;
DROP VIEW IF EXISTS mv_element_cells;
DROP VIEW IF EXISTS mv_page_frustration;

-- Each row keeps the number of the insert block that wrote it (_block_number), through merges. On a
-- non-replicated MergeTree a block number is taken and its part made visible under one lock
-- (MergeTreeSink::commitPart), so once block N is visible every block below it is too (or was dropped as a
-- duplicate): "all blocks <= N" is a watermark. Parts written before this setting report their own block
-- number, and are all below the watermark recorded next.
ALTER TABLE events MODIFY SETTING enable_block_number_column = 1;

-- The watermark: everything stored so far is aggregated.
INSERT INTO agg_runs (lo, hi, step, staged_rows, max_ts)
SELECT 0, (SELECT max(max_block_number) FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active), 'done', 0,
       (SELECT max(ts) FROM events);

-- The ids of the last two days' events, counted by the views: a re-sent id is recognised from the first range on.
INSERT INTO agg_event_ids (site, day, event_id, first_range)
SELECT site, toDate(ts) AS day, event_id, 0 FROM events WHERE ts >= now64(3) - INTERVAL 2 DAY GROUP BY site, day, event_id;
