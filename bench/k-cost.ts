/**
 * `npx tsx bench/k-cost.ts [visitorsPerDay…]`: what the release rule of the
 * analyst views costs (docs/analysts.md, "What the k rule hides").
 *
 * Seeds 30 days of a synthetic shop into a fresh embedded store for each
 * size given (default: 200 and 2,000 visitors a day), then asks every view
 * for the whole period twice: through the views of today (a group is shown
 * per day with k visitors and k networks, sums of released days) and
 * through the views as they were before (k distinct daily visitor hashes
 * over the whole period, small groups folded into "other"), created beside
 * them from git (schemas/views.sql before commit fceb276). Prints, per view,
 * the groups each shows (without "other") and how many groups the new rule
 * hides that the old one showed.
 *
 * The shop: a population of 3 × visitorsPerDay people, each with a network
 * of their own except one in ten behind 20 shared addresses (offices,
 * carrier NAT); every day visitorsPerDay of them come, view 1–6 pages of 60
 * (a long tail: a few pages take most views), click on 1 of 12 spots on a
 * page, scroll and stay a while; 3 device mixes, 5 referrers.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { openStore } from '../src/store/client.js';
import { migrate, splitStatements } from '../src/store/migrate.js';
import { aggregateNow } from '../src/store/aggregator.js';
import { tempDir } from '../test/support/tmp.js';

const OLD_VIEWS_COMMIT = 'fceb276~1';
const K = 5;
const DAYS = 30;

const seed = (perDay: number) => `
INSERT INTO events (site, ts, type, event_id, pageview_id, visitor_id, path, referrer_host, ip_prefix, browser, os, device_type,
  viewport_w, viewport_h, click_selector, click_label, click_x, click_y, page_x, page_y, visible_ms, scroll_depth, custom_name)
SELECT 'shop', ts, type, cityHash64(day, person, pv, type), cityHash64(day, person, pv), cityHash64(day, person), page, ref,
  if(person % 10 = 0, concat('203.0.', toString(person % 20), '.0/24'), concat('10.', toString(intDiv(person, 256) % 256), '.', toString(person % 256), '.0/24')),
  ['Chrome', 'Safari', 'Firefox'][1 + person % 3], ['Windows', 'iOS', 'Android'][1 + person % 3], ['desktop', 'mobile', 'tablet'][1 + person % 3],
  [1440, 390, 820][1 + person % 3], 900,
  if(type = 'click', concat('main>a.spot', toString(spot)), ''), if(type = 'click', concat('spot-', toString(spot)), ''),
  0.5, 0.5, if(type = 'click', (spot % 4) * 300 + 40, 0), if(type = 'click', intDiv(spot, 4) * 400 + 40, 0),
  if(type = 'engagement', 2000 + cityHash64(day, person, pv) % 90000, 0), if(type = 'engagement', cityHash64(pv, person) % 101, 0),
  if(type = 'custom', 'add_to_cart', '')
FROM
(
  SELECT day, person, pv, type, ref,
         cityHash64(day, person, pv, 'spot') % 12 AS spot,
         concat('/p', toString(toUInt32(floor(pow(cityHash64(day, person, pv, 'page') / 18446744073709551615, 2.5) * 60)))) AS page,
         toDateTime64(toDateTime(today() - ${DAYS} + day) + toIntervalSecond(36000 + pv * 60 + indexOf(['pageview', 'engagement', 'click', 'custom'], type)), 3) AS ts
  FROM
  (
    SELECT intDiv(number, ${perDay}) AS day,
           cityHash64(number, 'who') % ${perDay * 3} AS person,
           1 + cityHash64(number, 'pages') % 6 AS pages,
           ['', '', 'www.google.com', 'www.bing.com', 'news.example'][1 + cityHash64(number, 'ref') % 5] AS ref
    FROM numbers(${perDay * DAYS})
  )
  ARRAY JOIN range(pages) AS pv
  ARRAY JOIN ['pageview', 'engagement', 'click', 'custom'] AS type
  WHERE type != 'custom' OR cityHash64(day, person, pv) % 7 = 0
)`;

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const oldViews = execFileSync('git', ['show', `${OLD_VIEWS_COMMIT}:schemas/views.sql`], { encoding: 'utf8' })
    .replace(/\{\{K_ANONYMITY\}\}/g, String(K))
    .replace(/VIEW v_/g, 'VIEW old_v_');
  for (const perDay of sizes.length ? sizes : [200, 2000]) {
    const dir = tempDir('k-cost');
    const store = await openStore({ dataDir: dir, url: undefined, database: 'x', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: K, migrateOnStart: true } as never);
    try {
      await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: K });
      for (const statement of splitStatements(oldViews)) await store.client.command({ query: statement });
      await store.client.command({ query: seed(perDay) });
      await aggregateNow(store.client); // the aggregates follow `events` in the background (src/store/aggregator.ts)
      const q = async (sql: string) => (await store.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
      const [{ n }] = (await q('SELECT count() AS n FROM events')) as [{ n: number }];
      const P = `site = 'shop', date_from = today() - ${DAYS}, date_to = today()`;
      const top = (await q(`SELECT path FROM agg_pages_daily GROUP BY path ORDER BY sum(pageviews) DESC LIMIT 10`)).map((r) => String(r.path));
      const views: [string, string, boolean][] = [
        ['v_daily', 'day', false], ['v_pages', 'page', false], ['v_devices', 'device_type, browser, os', false], ['v_sources', 'referrer_host, utm_source, utm_medium, utm_campaign', false],
        ['v_custom_events', 'name', false], ['v_entry_exit', 'page', false], ['v_transitions', 'from_page, to_page', false],
        ['v_heatmap', 'viewport, cell_x, cell_y', true], ['v_click_targets', 'target, label', true], ['v_scroll_depth', 'depth', true],
        ['v_visible_time', 'from_s', true], ['v_page_devices', 'device_type', true],
      ];
      console.log(`\n${perDay} visitors a day, ${DAYS} days, ${n.toLocaleString()} events; per-page views over the 10 busiest pages`);
      console.log('view'.padEnd(18), 'before'.padStart(7), 'now'.padStart(7), 'hidden'.padStart(7));
      let before = 0;
      let now = 0;
      let hidden = 0;
      for (const [view, key, perPage] of views) {
        const calls = perPage ? top.map((pg) => `${P}, page = '${pg}'`) : [P];
        let b = 0;
        let a = 0;
        let h = 0;
        for (const args of calls) {
          const keyOf = (r: Record<string, unknown>) => key.split(', ').map((k) => String(r[k])).join('|');
          const isOther = (r: Record<string, unknown>) => key.split(', ').some((k) => r[k] === 'other');
          const old = (await q(`SELECT ${key} FROM old_${view}(${args})`)).filter((r) => !isOther(r)).map(keyOf);
          const cur = new Set((await q(`SELECT ${key} FROM ${view}(${args})`)).map(keyOf));
          b += old.length;
          a += cur.size;
          h += old.filter((k) => !cur.has(k)).length;
        }
        console.log(view.padEnd(18), String(b).padStart(7), String(a).padStart(7), String(h).padStart(7));
        before += b;
        now += a;
        hidden += h;
      }
      console.log('all'.padEnd(18), String(before).padStart(7), String(now).padStart(7), String(hidden).padStart(7), `(${((100 * hidden) / Math.max(1, before)).toFixed(0)} % of the groups shown before)`);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

void main();
