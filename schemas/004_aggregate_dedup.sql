-- Exactly-once in the aggregates too. The worker inserts each batch with an
-- insert_deduplication_token (src/store/inserter.ts), and `events` remembers
-- the last 1000 tokens (001), so a retried insert adds nothing there. The
-- materialised views' target tables did not remember any: a retried insert
-- whose `events` block was dropped as a duplicate was still counted again in
-- every aggregate. With the same window on each target table, ClickHouse
-- deduplicates the views' blocks by tokens derived from the source block's,
-- so a retry is a no-op everywhere (test: src/store/store.integration.test.ts).
ALTER TABLE agg_pages_daily MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_pageview_engagement MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_click_cells MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_click_targets MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_devices_daily MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_page_devices_daily MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_sources_daily MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_custom_daily MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_visitor_days MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE agg_visitor_pageviews MODIFY SETTING non_replicated_deduplication_window = 1000;
