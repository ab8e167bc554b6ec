/**
 * `npm run privacy-report` against a real migrated store: every column of
 * every table is described, TTLs and settings come from the store and the
 * config, and the command writes its JSON.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { openStore, type Store } from '../src/store/client.js';
import { migrate, migrationVars } from '../src/store/migrate.js';
import { aggregateNow } from '../src/store/aggregator.js';
import { buildPrivacyReport, EVENT_COLUMNS, type PrivacyReport } from '../scripts/privacy-report.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('privacy-report');
const config = loadConfig({ DATA_DIR: dir, RETENTION_DAYS: '90', AGGREGATE_RETENTION_MONTHS: '13', IPV4_PREFIX: '16', IPV6_PREFIX: '40', HONOR_DNT: 'false' });
let store: Store;
let report: PrivacyReport;

beforeAll(async () => {
  store = await openStore(config.store);
  await migrate(store.client, migrationVars(config.store));
  report = await buildPrivacyReport(store, config);
});
afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('privacy report', () => {
  it('describes every column of every table in the store, and nothing that is not there', async () => {
    const rs = await store.client.query({
      query: "SELECT table, name FROM system.columns WHERE database = currentDatabase() AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView'))",
      format: 'JSONEachRow',
    });
    const inStore = (await rs.json<{ table: string; name: string }>()).map((c) => `${c.table}.${c.name}`).sort();
    const reported = report.tables.flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`)).sort();
    expect(reported).toEqual(inStore);
    expect(inStore.length).toBeGreaterThan(60);
    for (const t of report.tables) for (const c of t.columns) {
      expect(c.holds, `${t.name}.${c.name}`).not.toBe('');
      expect(c.rule, `${t.name}.${c.name}`).not.toBe('');
    }
    // No stale description of an events column that no longer exists.
    const events = report.tables.find((t) => t.name === 'events')!;
    expect(Object.keys(EVENT_COLUMNS).sort()).toEqual(events.columns.map((c) => c.name).sort());
  });

  it('takes TTLs from the store and settings from the config', () => {
    const ttl = Object.fromEntries(report.tables.map((t) => [t.name, t.ttl]));
    expect(ttl.events).toMatch(/toIntervalDay\(90\)/);
    expect(ttl.agg_pages_daily).toMatch(/toIntervalMonth\(13\)/);
    expect(ttl.agg_visitor_days).toMatch(/toIntervalDay\(90\)/); // holds visitor hashes: raw retention
    expect(report.ipTruncation).toMatchObject({ ipv4Prefix: 16, ipv6Prefix: 40, maxIpv4Prefix: 24, maxIpv6Prefix: 48 });
    // Why the IPv6 default is /40: a /48 is often one customer.
    expect(report.ipTruncation.ipv6Default).toMatch(/\/40 by default, not \/48.*one customer.*256 \/48s/s);
    expect(report.consent).toMatchObject({ honorGpc: true, honorDnt: false });
    expect(report.retention).toEqual({ eventsDays: 90, aggregatesMonths: 13, deadLettersDays: 14 });
    expect(report.salts.lifetime).toMatch(/48 h/);
    expect(report.rawData.map((d) => d.where).join('\n')).toMatch(/Redis/);
  });

  it('describes ids as src/anonymise/ids.ts computes them', () => {
    // eventId(pageviewKey(salt, site, visitor, clientPageviewId), clientEventId)
    expect(EVENT_COLUMNS.event_id!.rule).toMatch(/^SHA-256\(page-view secret, client event id\).*HMAC under the day key/);
    expect(EVENT_COLUMNS.pageview_id!.rule).toMatch(/^HMAC-SHA256\(day key, site, visitor id, client page-view id\)/);
    expect(EVENT_COLUMNS.visitor_id!.rule).toMatch(/^HMAC-SHA256\(day key, site, full IP, full UA\).*day key = HMAC-SHA256\(worker secret, day salt\)/);
  });

  it('lists every place raw data, salts or keys can exist, with how long', () => {
    const where = (re: RegExp) => {
      const d = report.rawData.find((x) => re.test(x.where));
      expect(d, String(re)).toBeDefined();
      return `${d!.where}: ${d!.form}; ${d!.howLong}`;
    };
    expect(where(/AOF\/RDB/)).toMatch(/sealed jobs.*salts.*BGREWRITEAOF daily.*backups short-lived/s);
    expect(where(/:rl:/)).toMatch(/HMAC-SHA256 of the client address.*expire with their window \(RATE_LIMIT_WINDOW_MS = 10000 ms\)/s);
    expect(where(/DATA_DIR\/keys/)).toContain(path.join(dir, 'keys'));
    expect(where(/DATA_DIR\/keys/)).toMatch(/sealing key.*generated only outside production/s);
    expect(where(/DATA_DIR tokens/)).toContain(path.join(dir, 'tokens.json'));
    expect(where(/DATA_DIR tokens/)).toMatch(/bearer tokens/);
    // The embedded chDB keeps no system logs; the server config's TTL is what applies in server mode.
    expect(where(/system\.query_log/)).toMatch(/SQL text of every analyst query.*not kept: the embedded chDB/s);
    expect(report.analystViews.names).toContain('v_pages');
    expect(report.tables.find((t) => t.name === 'agg_visitor_days')!.columns.find((c) => c.name === 'visitor_id')!.holds).toMatch(/daily visitor hash itself/);
  });

  it('shows the oldest row of each table, so a retention can be checked against the data', async () => {
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    await store.client.command({ query: `INSERT INTO events (site, ts, type, event_id, path) VALUES ('demo', '${old} 12:00:00', 'pageview', 1, '/old')` });
    await aggregateNow(store.client);
    const r = await buildPrivacyReport(store, config);
    const table = (n: string) => r.tables.find((t) => t.name === n)!;
    expect(table('events').oldestRow).toBe(`${old} 12:00:00.000 (ts)`);
    expect(table('agg_pages_daily').oldestRow).toBe(`${old} (day)`);
    expect(table('agg_transitions_daily').oldestRow).toBeNull(); // empty
    expect(table('schema_migrations').oldestRow).toMatch(/\(applied_at\)$/);
  });

  it('npm run privacy-report prints the inventory and writes it as JSON', async () => {
    const out = path.join(dir, 'report.json');
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: path.join(dir, 'cli'), IPV4_PREFIX: '20', LOG_LEVEL: 'silent' };
    delete env.CLICKHOUSE_URL;
    const { stdout } = await promisify(execFile)(path.resolve('node_modules/.bin/tsx'), ['scripts/privacy-report.ts', '--out', out], { env, timeout: 120_000 });
    expect(stdout).toMatch(/table events \[ReplacingMergeTree\] TTL toDateTime\(ts\) \+ toIntervalDay\(180\)/);
    expect(stdout).toMatch(/IPv4 \/20/);
    expect(stdout).not.toMatch(/undescribed/);
    expect(stdout).toMatch(/oldest row: none \(empty\)/);
    const json = JSON.parse(fs.readFileSync(out, 'utf8')) as PrivacyReport;
    expect(json.tables.map((t) => t.name)).toEqual(report.tables.map((t) => t.name));
    expect(json.ipTruncation.ipv4Prefix).toBe(20);
  });
});
