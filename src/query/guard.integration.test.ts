/**
 * The query guard against the real embedded ClickHouse: every way found to
 * read raw events as an analyst, write through the guard, or reach outside
 * the database is refused, and the engine is left as it was.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/client.js';
import { migrate } from '../store/migrate.js';
import { tempDir } from '../../test/support/tmp.js';
import { analystViews, checkQuery, QueryDenied, QueryRefused, readOnlySql, type Role } from './guard.js';

const dir = tempDir('guard');
let store: Store;
let views: Set<string>;
const PERIOD = "site = 'shop', date_from = '2026-01-01', date_to = '2026-12-31'";

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'x', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true } as never);
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  await store.client.command({ query: 'CREATE TABLE canary_t (a UInt8) ENGINE = Memory' });
  views = await analystViews(store.client);
}, 60_000);

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const check = (sql: string, role: Role) => checkQuery(store.client, sql, role, role === 'analyst' ? views : new Set());
const tables = async () => {
  const rs = await store.client.query({ query: 'SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name', format: 'JSONEachRow' });
  return (await rs.json<{ name: string }>()).map((r) => r.name);
};

describe('query guard', () => {
  it('lets analysts read analyst views, with CTEs, subqueries and unions over them', async () => {
    for (const sql of [
      `SELECT * FROM v_daily(${PERIOD})`,
      `SELECT day, pageviews FROM default.v_daily(${PERIOD}) WHERE pageviews > 0 -- a comment`,
      `WITH d AS (SELECT * FROM v_daily(${PERIOD})) SELECT count() FROM d`,
      `SELECT sum(pageviews) FROM (SELECT * FROM v_daily(${PERIOD})) UNION ALL SELECT 1`,
      'SELECT 1 AS one, round(2.5) AS r',
      '(SELECT 1 AS one) UNION ALL (SELECT 2 AS one)',
    ]) {
      const normalised = await check(sql, 'analyst');
      const rs = await store.client.query({ query: readOnlySql(normalised), format: 'JSONEachRow' });
      expect(Array.isArray(await rs.json())).toBe(true);
    }
  });

  it.each([
    ['a comment that looks like a CTE', 'SELECT path FROM events -- events AS ('],
    ['a string that looks like a CTE', "SELECT path FROM events WHERE 'events AS (' != ''"],
    ['a CTE shadowed by a database prefix', 'WITH events AS (SELECT 1) SELECT path FROM default.events'],
    ['backticks and case', 'WITH events AS (SELECT 1) SELECT path FROM `default`.`events`'],
    ['IN a table', `SELECT * FROM v_daily(${PERIOD}) WHERE 1 IN schema_migrations`],
    ['a subquery on events', `SELECT * FROM v_daily(${PERIOD}) WHERE pageviews IN (SELECT count() FROM events)`],
    ['a join', `SELECT * FROM v_daily(${PERIOD}) AS d, events AS e`],
    ['an aggregate table', 'SELECT * FROM agg_pages_daily'],
    ['system tables', 'SELECT * FROM system.query_log'],
    ['a table function', "SELECT * FROM merge('default', '^ev')"],
    ['numbers()', 'SELECT * FROM numbers(3)'],
    ['view()', 'SELECT * FROM view(SELECT path FROM events)'],
    ['a dictionary read', "SELECT dictGet('d', 'x', 1)"],
  ])('refuses analysts: %s', async (_what, sql) => {
    await expect(check(sql, 'analyst')).rejects.toBeInstanceOf(QueryDenied);
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
    for (const role of ['admin', 'analyst'] as const) await expect(check(sql, role)).rejects.toBeInstanceOf(QueryDenied);
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

  it('lets admins read every table, still through the normalised text', async () => {
    const normalised = await check('SELECT count() AS n FROM events /* c */ -- c', 'admin');
    expect(normalised).toBe('SELECT count() AS n FROM events');
    await expect(check('SELECT * FROM system.query_log LIMIT 1', 'admin')).resolves.toContain('system.query_log');
  });
});
