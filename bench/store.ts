/**
 * `npm run bench:store`: what the schema costs and how fast analysts read it.
 *
 * Seeds STORE_BENCH_EVENTS (default 10,000,000) synthetic anonymised events
 * into a fresh embedded ClickHouse (the same migrations, so every
 * materialised view fills its aggregate as in production), then reports:
 *   - compressed bytes on disk per million events, per table and in total;
 *   - median latency of the top-pages and heatmap analyst queries (through
 *     the k-anonymous views), and of the same questions asked of raw events.
 * The rows are generated inside ClickHouse (INSERT … SELECT FROM numbers), in
 * chunks of one million, so the figure is the store's, not the client's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/store/client.js';
import { migrate } from '../src/store/migrate.js';
import { aggregateNow } from '../src/store/aggregator.js';
import { tempDir } from '../test/support/tmp.js';
import { rollupFinishedDays } from '../src/store/rollup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(process.env.STORE_BENCH_EVENTS ?? 10_000_000);
const CHUNK = 1_000_000;
const RUNS = 7;

// 30 days of traffic on one site: 200 product pages with a long tail, 300k visitor-days, four event types
// (50 % page views, 30 % clicks, 15 % engagement, 5 % custom), three viewport buckets, a handful of browsers.
const seedSql = (offset: number, n: number) => `
INSERT INTO events (site, ts, type, event_id, pageview_id, visitor_id, path, query, utm_source, referrer_host,
  ip_prefix, browser, os, device_type, viewport_w, viewport_h,
  click_selector, click_label, click_x, click_y, page_x, page_y, visible_ms, scroll_depth, custom_name)
SELECT 'shop', toStartOfSecond(now64(3) - toIntervalMillisecond(r1 % 2592000000)), t, cityHash64(number, 1), cityHash64(intDiv(number, 8), 2),
  v, p, '', ['', '', 'newsletter', 'google'][1 + r2 % 4], ['', 'google.com', 'duckduckgo.com'][1 + r3 % 3],
  concat('198.51.', toString(r2 % 256), '.0/24'), ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + v % 4],
  ['Windows', 'iOS', 'Android', 'Mac OS'][1 + v % 4], ['desktop', 'mobile', 'tablet'][1 + v % 3],
  [1440, 390, 820][1 + v % 3], [900, 844, 1180][1 + v % 3],
  if(t = 'click', ['main>section.grid>a.card', 'main>section.buy>button.add', 'header>nav>a.cart'][1 + r3 % 3], ''),
  if(t = 'click', ['', 'add-to-cart', 'open-cart'][1 + r3 % 3], ''),
  if(t = 'click', round((r2 % 100) / 100, 2), 0), if(t = 'click', round((r3 % 100) / 100, 2), 0),
  if(t = 'click', intDiv(r2 % 1440, 10) * 10, 0), if(t = 'click', intDiv(r3 % 3000, 10) * 10, 0),
  if(t = 'engagement', r2 % 120000, 0), if(t = 'engagement', r3 % 101, 0), if(t = 'custom', 'checkout_start', '')
FROM (
  SELECT number, rand64(number) AS r1, rand(number + 1) AS r2, rand(number + 2) AS r3,
    ['pageview', 'pageview', 'pageview', 'pageview', 'pageview', 'click', 'click', 'click', 'engagement', 'engagement', 'engagement', 'custom'][1 + (number % 12)] AS t,
    cityHash64(intDiv(number, 12) % 300000) AS v,
    concat('/products/p', toString(floor(pow(rand(number + 3) / 4294967295, 3) * 200))) AS p
  FROM numbers(${offset}, ${n})
)`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dataDir = tempDir('bench-store');
  const store = await openStore({
    dataDir, url: undefined, database: 'analytics', username: undefined, password: undefined,
    retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true,
  });
  const client = store.client;
  try {
    await migrate(client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
    const t0 = Date.now();
    for (let off = 0; off < EVENTS; off += CHUNK) {
      await client.command({ query: seedSql(off, Math.min(CHUNK, EVENTS - off)) });
      // The aggregates follow `events` in the background in the pipeline (src/store/aggregator.ts): here, per chunk.
      await aggregateNow(client);
      const done = Math.min(EVENTS, off + CHUNK);
      process.stderr.write(`\r\x1b[Kseeding ${done.toLocaleString()} / ${EVENTS.toLocaleString()} events (${((done / (Date.now() - t0)) * 1000).toFixed(0)} events/s)`);
    }
    process.stderr.write('\n');
    const seedSeconds = (Date.now() - t0) / 1000;
    await client.command({ query: 'OPTIMIZE TABLE events FINAL' });

    const parts = await (
      await client.query({
        query: `SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
                FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table ORDER BY compressed DESC`,
        format: 'JSONEachRow',
      })
    ).json<{ table: string; rows: string; compressed: string; uncompressed: string }>();
    const perMillion = (bytes: number) => (bytes / EVENTS) * 1_000_000;

    const topPage = (
      await (await client.query({ query: "SELECT path FROM events WHERE type = 'click' GROUP BY path ORDER BY count() DESC LIMIT 1", format: 'JSONEachRow' })).json<{ path: string }>()
    )[0]!.path;
    const period = "site = 'shop', date_from = today() - 30, date_to = today()";
    const queries: Record<string, string> = {
      'top pages (v_pages)': `SELECT page, pageviews, visitors, median_visible_ms FROM v_pages(${period}) ORDER BY pageviews DESC LIMIT 20`,
      'heatmap (v_heatmap, mobile)': `SELECT cell_x, cell_y, clicks FROM v_heatmap(${period}, page = '${topPage}') WHERE viewport = 'mobile' ORDER BY clicks DESC LIMIT 100`,
      'top pages from raw events': `SELECT path, countIf(type = 'pageview') AS pv, uniq(visitor_id) AS visitors, quantileTDigestIf(0.5)(visible_ms, type = 'engagement') AS med
        FROM events WHERE site = 'shop' AND ts >= today() - 30 GROUP BY path ORDER BY pv DESC LIMIT 20`,
      'heatmap from raw events': `SELECT intDiv(page_x * 50, viewport_w) AS cx, intDiv(page_y * 50, viewport_w) AS cy, count() AS clicks
        FROM events WHERE site = 'shop' AND ts >= today() - 30 AND path = '${topPage}' AND type = 'click' AND viewport_w < 600
        GROUP BY cx, cy ORDER BY clicks DESC LIMIT 100`,
    };
    const latency: Record<string, number> = {};
    const measure = async (name: string, sql: string) => {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const rows = await (await client.query({ query: sql, format: 'JSONEachRow' })).json();
        times.push(performance.now() - t);
        if (rows.length === 0) throw new Error(`${name}: no rows; the seed does not exercise this query`);
      }
      latency[name] = median(times);
    };
    // First as if no day were rolled up yet (every day read from the per-page-view tables)...
    for (const [name, sql] of Object.entries(queries)) await measure(name, sql);
    // ... then in the steady state: the daily rollup (run by the worker hourly) has summarised every finished
    // day, and only the last two days are read per page view.
    process.stderr.write('\r\x1b[Krolling up finished days');
    const r0 = performance.now();
    const rolled = await rollupFinishedDays(client, new Date());
    const rollupSeconds = (performance.now() - r0) / 1000;
    for (const name of ['top pages (v_pages)', 'heatmap (v_heatmap, mobile)']) await measure(`${name} after the daily rollup of ${rolled.length} days`, queries[name]!);

    const total = parts.reduce((a, p) => a + Number(p.compressed), 0);
    const result = {
      events: EVENTS,
      seedSeconds,
      rollupSeconds,
      compressedBytesPerMillionEvents: Math.round(perMillion(total)),
      tables: parts.map((p) => ({ table: p.table, rows: Number(p.rows), compressedBytes: Number(p.compressed), uncompressedBytes: Number(p.uncompressed), perMillionEvents: Math.round(perMillion(Number(p.compressed))) })),
      medianLatencyMs: Object.fromEntries(Object.entries(latency).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      runsPerQuery: RUNS,
    };
    const outDir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `store-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

    const mb = (b: number) => (b / 1e6).toFixed(2);
    console.log(`\n${EVENTS.toLocaleString()} events seeded in ${seedSeconds.toFixed(1)} s; on disk (compressed), per million events:`);
    console.log('| table | rows | compressed MB | MB per million events |\n|---|---:|---:|---:|');
    for (const t of result.tables) console.log(`| ${t.table} | ${t.rows.toLocaleString()} | ${mb(t.compressedBytes)} | ${mb(t.perMillionEvents)} |`);
    console.log(`| **all** | | ${mb(total)} | ${mb(result.compressedBytesPerMillionEvents)} |`);
    console.log(`\ndaily rollup of ${rolled.length} days: ${rollupSeconds.toFixed(1)} s`);
    console.log(`\nquery latency, median of ${RUNS}:`);
    console.log('| query | ms |\n|---|---:|');
    for (const [k, v] of Object.entries(result.medianLatencyMs)) console.log(`| ${k} | ${v} |`);
    console.log(`\nwritten: ${path.relative(ROOT, file)}`);
  } finally {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:store failed: ${(err as Error).message}`);
  process.exit(1);
});
