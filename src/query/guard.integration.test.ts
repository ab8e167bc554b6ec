/**
 * The query guard against the real embedded ClickHouse: it decides on the
 * parser's output alone (nothing runs while it decides), admits what analysts
 * need, refuses every way found to read past the views, write, or reach
 * outside the database, and leaves the engine as it was.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/client.js';
import { migrate } from '../store/migrate.js';
import { clickHouseParser, type SqlParser } from '../store/parser.js';
import { tempDir } from '../../test/support/tmp.js';
import { ANALYST_FUNCTIONS, analystMayCall } from './functions.js';
import { checkQuery, QueryRefused, type Role } from './guard.js';
import { withQuerySettings } from './settings.js';

const dir = tempDir('guard');
let store: Store;
let parser: SqlParser;
const PERIOD = "site = 'shop', date_from = '2026-01-01', date_to = '2026-12-31'";
const LIMITS = { maxExecutionSeconds: 10, maxMemoryBytes: 1 << 30, maxResultRows: 1000, maxResultBytes: 1 << 20 };

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'x', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true } as never);
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  await store.client.command({ query: 'CREATE TABLE canary_t (a UInt8) ENGINE = Memory' });
  parser = clickHouseParser(store.client);
}, 60_000);

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const check = (sql: string, role: Role) => checkQuery(parser, sql, role);
const tables = async () => {
  const rs = await store.client.query({ query: 'SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name', format: 'JSONEachRow' });
  return (await rs.json<{ name: string }>()).map((r) => r.name);
};
const run = async (sql: string) => (await store.client.query({ query: withQuerySettings(sql, LIMITS, '00000000-0000-4000-8000-000000000000'), format: 'JSONEachRow' })).json();

describe('query guard', () => {
  it('lets analysts read analyst views, with CTEs, subqueries, joins, unions and window functions', async () => {
    for (const sql of [
      `SELECT * FROM v_daily(${PERIOD})`,
      `SELECT day, pageviews FROM default.v_daily(${PERIOD}) WHERE pageviews > 0 -- a comment`,
      `WITH d AS (SELECT * FROM v_daily(${PERIOD})) SELECT count() FROM d`,
      `WITH d AS (SELECT * FROM v_daily(${PERIOD})), e AS (SELECT day FROM d) SELECT count() FROM e`,
      `SELECT sum(pageviews) FROM (SELECT * FROM v_daily(${PERIOD})) UNION ALL SELECT 1`,
      `SELECT p.page, d.device_type FROM v_pages(${PERIOD}) AS p CROSS JOIN v_devices(${PERIOD}) AS d`,
      `SELECT day, sum(pageviews) OVER (ORDER BY day) AS running, rank() OVER (ORDER BY pageviews DESC) AS r FROM v_daily(${PERIOD})`,
      `SELECT toStartOfWeek(day) AS week, sumIf(pageviews, visitors > 10) AS pv, quantile(0.5)(pageviews) AS med FROM v_daily(site = 'shop', date_from = today() - 30, date_to = today()) GROUP BY week`,
      `SELECT page FROM v_pages(${PERIOD}) WHERE page IN (SELECT page FROM v_entry_exit(${PERIOD})) AND page LIKE '/products/%'`,
      `SELECT arrayMap(x -> x * 2, [1, 2]) AS a, CAST(1 AS String) AS s, if(1 > 0, 'y', 'n') AS c, multiIf(1 = 1, 1, 2) AS m`,
      'SELECT 1 AS one, round(2.5) AS r',
      '(SELECT 1 AS one) UNION ALL (SELECT 2 AS one)',
    ]) {
      const normalised = await check(sql, 'analyst');
      expect(Array.isArray(await run(normalised)), sql).toBe(true);
    }
  });

  it.each([
    ['a comment that looks like a CTE', 'SELECT path FROM events -- events AS ('],
    ['a string that looks like a CTE', "SELECT path FROM events WHERE 'events AS (' != ''"],
    ['a CTE shadowed by a database prefix', 'WITH events AS (SELECT 1) SELECT path FROM default.events'],
    ['a CTE named like a table', 'WITH events AS (SELECT 1 AS path) SELECT path FROM events'],
    ['a window named like a table', `SELECT sum(pageviews) OVER events FROM v_daily(${PERIOD}), events WINDOW events AS (ORDER BY day)`],
    ['backticks and case', 'WITH events AS (SELECT 1) SELECT path FROM `default`.`events`'],
    ['IN a table', `SELECT * FROM v_daily(${PERIOD}) WHERE 1 IN schema_migrations`],
    ['a subquery on events', `SELECT * FROM v_daily(${PERIOD}) WHERE pageviews IN (SELECT count() FROM events)`],
    ['a scalar subquery on events', 'SELECT (SELECT throwIf(count() > 5) FROM events) AS x'],
    ['merge()', "SELECT (SELECT count() FROM merge(currentDatabase(), '^events$')) AS x"],
    ['a join', `SELECT * FROM v_daily(${PERIOD}) AS d, events AS e`],
    ['an aggregate table', 'SELECT * FROM agg_pages_daily'],
    ['the audit table', 'SELECT * FROM query_audit'],
    ['system tables', 'SELECT * FROM system.query_log'],
    ['a view of another database', `SELECT * FROM system.v_daily(${PERIOD})`],
    ['a table function', "SELECT * FROM merge('default', '^ev')"],
    ['numbers()', 'SELECT * FROM numbers(3)'],
    ['view()', 'SELECT * FROM view(SELECT path FROM events)'],
    ['a subquery as a view parameter', "SELECT * FROM v_daily(site = (SELECT any(site) FROM events), date_from = '2026-01-01', date_to = '2026-12-31')"],
    ['a column as a view parameter', "SELECT * FROM v_daily(site = path, date_from = '2026-01-01', date_to = '2026-12-31')"],
    ['a dictionary read', "SELECT dictGet('d', 'x', 1)"],
    ['throwIf', 'SELECT throwIf(1)'],
    ['sleep', 'SELECT sleep(1)'],
    ['sleepEachRow', 'SELECT sleepEachRow(1)'],
    ['hasColumnInTable', "SELECT hasColumnInTable('default', 'events', 'path')"],
    ['getSetting', "SELECT getSetting('readonly')"],
    ['version', 'SELECT version()'],
    ['introspection', 'SELECT addressToSymbol(toUInt64(1))'],
    ['a function name in backticks with a space', 'SELECT `count x`(1)'],
    ['a generator', 'SELECT range(1000000000)'],
    ['ARRAY JOIN', `SELECT * FROM v_daily(${PERIOD}) ARRAY JOIN [1, 2] AS x`],
    ['APPLY', `SELECT * APPLY(throwIf) FROM v_daily(${PERIOD})`],
    ['a query parameter', `SELECT {x:String} AS x`],
    ['a name with a line break (the dump prints it as two lines)', 'SELECT * FROM `v_daily\n      TableIdentifier v_pages`(site = \'x\')'],
    ['a quoted name with a tab', 'SELECT 1 AS `a\tb`'],
    ['WITH RECURSIVE', 'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r'],
  ])('refuses analysts: %s', async (_what, sql) => {
    await expect(check(sql, 'analyst')).rejects.toBeInstanceOf(QueryRefused);
  });

  it('a CTE name used outside its scope reaches no table (it is never the name of one)', async () => {
    const normalised = await check('SELECT * FROM (WITH d AS (SELECT 1) SELECT 1) AS x, d', 'analyst');
    await expect(run(normalised)).rejects.toThrow(/UNKNOWN_TABLE|Unknown table expression/);
  });

  it('decides without running anything: a refused scalar subquery neither sleeps nor fails', async () => {
    const t0 = Date.now();
    await expect(check("SELECT (SELECT sleep(3) FROM merge(currentDatabase(), '^events$') LIMIT 1) AS x", 'analyst')).rejects.toBeInstanceOf(QueryRefused);
    await expect(check('SELECT (SELECT count() FROM numbers(3000000000) WHERE number % 7 = 3) AS n', 'analyst')).rejects.toBeInstanceOf(QueryRefused);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it.each([
    ['the scalar file()', "SELECT file('/proc/self/environ')"],
    ['FILE() in capitals', "SELECT FILE('/etc/hostname')"],
    ['the file table function', "SELECT * FROM file('/etc/hostname', 'LineAsString')"],
    ['url()', "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')"],
    ['s3()', "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV')"],
    ['remote()', "SELECT * FROM remote('127.0.0.1:1', system.one)"],
    ['executable()', "SELECT * FROM executable('x', 'TSV', 'a String')"],
  ])('refuses every role: %s', async (_what, sql) => {
    for (const role of ['admin', 'analyst'] as const) await expect(check(sql, role)).rejects.toBeInstanceOf(QueryRefused);
  });

  it.each([
    ['a second statement (DDL)', 'SELECT 1 AS one; CREATE TABLE pwned (a UInt8) ENGINE = Memory'],
    ['a second statement (DROP)', 'SELECT 1 AS one; DROP TABLE canary_t'],
    ['a second statement (SELECT)', 'SELECT 1 AS one; SELECT path FROM events'],
    ['INTO OUTFILE', `SELECT 'x' AS admin INTO OUTFILE '${path.join(dir, 'tokens.json')}' TRUNCATE`],
    ['a FORMAT clause', 'SELECT 1 FORMAT CSV'],
    ['a SETTINGS clause', 'SELECT 1 SETTINGS readonly = 0'],
    ['SETTINGS in a subquery', 'SELECT * FROM (SELECT 1 SETTINGS readonly = 0)'],
    ['an INSERT', 'INSERT INTO canary_t VALUES (1)'],
    ['DDL', 'DROP TABLE canary_t'],
    ['nonsense', 'SELEC 1'],
  ])('refuses every role, and runs nothing: %s', async (_what, sql) => {
    for (const role of ['admin', 'analyst'] as const) await expect(check(sql, role)).rejects.toBeInstanceOf(QueryRefused);
    const now = await tables();
    expect(now).toContain('canary_t');
    expect(now).not.toContain('pwned');
    expect(fs.existsSync(path.join(dir, 'tokens.json'))).toBe(false);
  });

  it('lets admins read every table, still through the normalised text, read-only and bounded', async () => {
    const normalised = await check('SELECT count() AS n FROM events /* c */ -- c', 'admin');
    expect(normalised).toBe('SELECT count() AS n FROM events');
    await expect(check('SELECT * FROM system.query_log LIMIT 1', 'admin')).resolves.toContain('system.query_log');
    expect(await run("SELECT getSetting('readonly') AS r, getSetting('max_execution_time') AS t")).toEqual([{ r: 1, t: 10 }]);
    await expect(run('SELECT number FROM numbers(5000)')).rejects.toThrow(/TOO_MANY_ROWS_OR_BYTES|Limit for result exceeded/);
  });

  it('no other function hides behind a case variant of an allowlisted name', async () => {
    const rs = await store.client.query({ query: 'SELECT name, alias_to, case_insensitive FROM system.functions', format: 'JSONEachRow' });
    const all = await rs.json<{ name: string; alias_to: string; case_insensitive: number }>();
    const canonical = (n: string) => all.find((f) => f.name === n)?.alias_to || n;
    // Read by the parser itself, not functions of the engine's list.
    const parserOnly = new Set(['lambda', 'exists']);
    for (const name of ANALYST_FUNCTIONS.filter((n) => !parserOnly.has(n))) {
      // The allowlisted name is a function of this engine, and every spelling that matches it case-insensitively
      // is that function, one of its aliases, or another allowlisted function.
      expect(all.some((f) => f.name === name), `${name} exists`).toBe(true);
      for (const f of all.filter((x) => x.name.toLowerCase() === name.toLowerCase() && x.name !== name)) {
        expect(canonical(f.name) === canonical(name) || analystMayCall(f.name) && ANALYST_FUNCTIONS.includes(canonical(f.name)), `${f.name} vs ${name}`).toBe(true);
      }
    }
  });
});
