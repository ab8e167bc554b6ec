-- The aggregates' SELECTs: the one home of how each agg_* table is computed from events.
--
-- Run by the background aggregation (src/store/aggregator.ts), never by the insert path: each run copies
-- the rows of a new range of `events` blocks into `agg_staging` (each event id once: an id already
-- aggregated, or met earlier in the range, is left out), then runs every statement below over that table
-- once, with an insert_deduplication_token made of (table, range), so a run redone after a crash adds
-- nothing twice. Each statement is `INSERT INTO <one agg table> (columns) SELECT … FROM agg_staging …`
-- and nothing else; a new aggregate is a new statement here (and its table in a migration).
--
-- Until schemas/040 these SELECTs were materialised views on `events` (002, 003, 005, 020, 021, 030).

-- click_cells
INSERT INTO agg_click_cells (site, day, path, viewport, cell_x, cell_y, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, multiIf(viewport_w = 0, 'unknown', viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport, toUInt8(least(49, intDiv(page_x * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_x, toUInt16(least(65535, intDiv(page_y * 50, if(viewport_w = 0, 1280, viewport_w)))) AS cell_y, count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'click'
GROUP BY site, day, path, viewport, cell_x, cell_y;

-- click_targets
INSERT INTO agg_click_targets (site, day, path, selector, label, clicks, rage_clicks, dead_clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, click_selector AS selector, click_label AS label, count() AS clicks, sum(click_rage) AS rage_clicks, sum(click_dead) AS dead_clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'click'
GROUP BY site, day, path, selector, label;

-- custom_daily
INSERT INTO agg_custom_daily (site, day, name, events, visitors, networks)
SELECT site, toDate(ts) AS day, custom_name AS name, count() AS events, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'custom'
GROUP BY site, day, name;

-- custom_props_daily
INSERT INTO agg_custom_props_daily (site, day, name, key, value, events, visitors, networks)
SELECT site, toDate(ts) AS day, custom_name AS name, key, value, count() AS events, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
ARRAY JOIN mapKeys(custom_props) AS key, mapValues(custom_props) AS value
WHERE type = 'custom'
GROUP BY site, day, name, key, value;

-- devices_daily
INSERT INTO agg_devices_daily (site, day, device_type, browser, os, pageviews, visitors, networks)
SELECT site, toDate(ts) AS day, device_type, browser, os, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'pageview'
GROUP BY site, day, device_type, browser, os;

-- element_cells
INSERT INTO agg_element_cells (site, day, path, frame, element, label, cell_x, cell_y, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, f.1 AS frame, f.2 AS element, click_label AS label, toUInt8(least(4, floor((f.3) * 5))) AS cell_x, toUInt8(least(4, floor((f.4) * 5))) AS cell_y, count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
ARRAY JOIN arrayFilter(t -> ((t.2) != ''), [('element', click_selector, click_x, click_y), ('tile', if(item_id = '', '', if(item_list = '', '(no list)', item_list)), block_x, block_y), ('block', if(item_id = '' AND click_label != '' AND block_x + block_y > 0, click_label, ''), block_x, block_y)]) AS f
WHERE type = 'click'
GROUP BY site, day, path, frame, element, label, cell_x, cell_y;

-- heatmap_cells
INSERT INTO agg_heatmap_cells (site, day, path, viewport, width, cell_x, cell_y, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport, arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768], [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width, toInt16(greatest(-32768, least(32767, floor((toInt64(page_x) - intDiv(viewport_w, 2)) / 20)))) AS cell_x, toUInt16(least(65535, intDiv(page_y, 20))) AS cell_y, count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE (type = 'click') AND (viewport_w > 0)
GROUP BY site, day, path, viewport, width, cell_x, cell_y;

-- heatmap_targets
INSERT INTO agg_heatmap_targets (site, day, path, viewport, width, selector, label, clicks, rage_clicks, dead_clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport, arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768], [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width, click_selector AS selector, click_label AS label, count() AS clicks, sum(click_rage) AS rage_clicks, sum(click_dead) AS dead_clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE (type = 'click') AND (viewport_w > 0)
GROUP BY site, day, path, viewport, width, selector, label;

-- heatmap_widths
INSERT INTO agg_heatmap_widths (site, day, path, viewport, width, pageviews, heights, visitors, networks)
SELECT site, toDate(ts) AS day, path, multiIf(viewport_w < 768, 'mobile', viewport_w < 1024, 'tablet', 'desktop') AS viewport, arrayJoin(multiIf(viewport_w < 768, [390], viewport_w < 1024, [768], [multiIf(viewport_w < 1280, 1024, viewport_w < 1440, 1280, viewport_w < 1920, 1440, 1920), 0])) AS width, count() AS pageviews, quantileState(0.5)(viewport_h) AS heights, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE (type = 'pageview') AND (viewport_w > 0)
GROUP BY site, day, path, viewport, width;

-- items_daily
INSERT INTO agg_items_daily (site, day, list, item, position, impressions, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, item_list AS list, arrayJoin([item_id, '']) AS item, item_pos AS position, countIf(type = 'impression') AS impressions, countIf(type = 'click') AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE (type IN ('impression', 'click')) AND (item_id != '')
GROUP BY site, day, list, item, position;

-- page_devices_daily
INSERT INTO agg_page_devices_daily (site, day, path, device_type, pageviews, visitors, networks)
SELECT site, toDate(ts) AS day, path, device_type, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'pageview'
GROUP BY site, day, path, device_type;

-- page_frustration
INSERT INTO agg_page_frustration (site, day, path, signal, clicks, visitors, networks)
SELECT site, toDate(ts) AS day, path, signal, count() AS clicks, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
ARRAY JOIN arrayFilter(s -> (s != ''), [if(click_rage = 1, 'rage', ''), if(click_dead = 1, 'dead', '')]) AS signal
WHERE (type = 'click') AND ((click_rage = 1) OR (click_dead = 1))
GROUP BY site, day, path, signal;

-- page_params_daily
INSERT INTO agg_page_params_daily (site, day, path, param, value, pageviews, visitors, networks)
SELECT site, toDate(ts) AS day, path, kv[1] AS param, decodeURLComponent(kv[2]) AS value, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
ARRAY JOIN arrayMap(p -> splitByChar('=', p), splitByChar('&', query)) AS kv
WHERE (type = 'pageview') AND (query != '')
GROUP BY site, day, path, param, value;

-- pages_daily
INSERT INTO agg_pages_daily (site, day, path, pageviews, engagements, visitors, networks)
SELECT site, toDate(ts) AS day, path, countIf(type = 'pageview') AS pageviews, countIf(type = 'engagement') AS engagements, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
GROUP BY site, day, path;

-- pageview_engagement
INSERT INTO agg_pageview_engagement (site, day, path, pageview_id, visitor_id, network, visible_ms, scroll)
SELECT site, toDate(ts) AS day, path, pageview_id, any(visitor_id) AS visitor_id, max(cityHash64(ip_prefix)) AS network, max(visible_ms) AS visible_ms, max(least(scroll_depth, 100)) AS scroll
FROM agg_staging
WHERE type = 'engagement'
GROUP BY site, day, path, pageview_id;

-- sources_daily
INSERT INTO agg_sources_daily (site, day, referrer_host, utm_source, utm_medium, utm_campaign, pageviews, visitors, networks)
SELECT site, toDate(ts) AS day, referrer_host, utm_source, utm_medium, utm_campaign, count() AS pageviews, uniqCombinedState(12)(visitor_id) AS visitors, uniqCombinedState(12)(cityHash64(ip_prefix)) AS networks
FROM agg_staging
WHERE type = 'pageview'
GROUP BY site, day, referrer_host, utm_source, utm_medium, utm_campaign;

-- visitor_arms
INSERT INTO agg_visitor_arms (site, day, experiment, visitor_id, arm, first_seen)
SELECT site, toDate(ts) AS day, kv.1 AS experiment, visitor_id, argMinState(toString(kv.2), (toDateTime(ts, 'UTC'), toString(kv.2))) AS arm, min(toDateTime(ts, 'UTC')) AS first_seen
FROM agg_staging
ARRAY JOIN arrayZip(mapKeys(variants), mapValues(variants)) AS kv
GROUP BY site, day, experiment, visitor_id;

-- visitor_days
INSERT INTO agg_visitor_days (site, day, visitor_id, pageviews, network, entry, exit)
SELECT site, toDate(ts) AS day, visitor_id, count() AS pageviews, max(cityHash64(ip_prefix)) AS network, argMinState(path, ts) AS entry, argMaxState(path, ts) AS exit
FROM agg_staging
WHERE type = 'pageview'
GROUP BY site, day, visitor_id;

-- visitor_networks
INSERT INTO agg_visitor_networks (site, day, visitor_id, device_type, network)
SELECT site, toDate(ts) AS day, visitor_id, max(device_type) AS device_type, max(cityHash64(ip_prefix)) AS network
FROM agg_staging
GROUP BY site, day, visitor_id;

-- visitor_pageviews
INSERT INTO agg_visitor_pageviews (site, day, visitor_id, pageview_id, ts, path, network)
SELECT site, toDate(ts) AS day, visitor_id, pageview_id, ts, path, cityHash64(ip_prefix) AS network
FROM agg_staging
WHERE type = 'pageview';

-- visitor_steps
INSERT INTO agg_visitor_steps (site, day, visitor_id, event_id, ts, kind, value)
SELECT site, toDate(ts) AS day, visitor_id, event_id, toDateTime(ts, 'UTC') AS ts, multiIf(type = 'pageview', 'page', type = 'custom', 'event', 'item') AS kind, multiIf(type = 'pageview', path, type = 'custom', custom_name, item_id) AS value
FROM agg_staging
WHERE (type IN ('pageview', 'custom')) OR ((type = 'click') AND (item_id != ''));

