/**
 * The migrations in cluster mode (CLICKHOUSE_CLUSTER), checked as text: no
 * ClickHouse server or Keeper can run here, so every statement migrate()
 * would send to a cluster is generated from the real schemas/*.sql and
 * checked for what the cluster needs (src/store/cluster-ddl.ts):
 *   - every table: a Replicated… local table of the same engine family,
 *     ORDER BY, PARTITION BY, TTL and settings, ON CLUSTER; sharded tables
 *     also a Distributed table under the original name, sharded by a hash of
 *     the visitor id (or of the sorting key where there is no visitor);
 *   - every materialised view ON CLUSTER, reading events_local and writing
 *     the local part of its target;
 *   - every ALTER, DROP, backfill and analyst view placed where it belongs.
 * And with ClickHouse's own parser (embedded chDB, which parses but cannot
 * run ON CLUSTER): every generated statement parses, and every sharding key
 * is a UInt64 expression over its table's columns.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import { openStore, type Store } from './client.js';
import { ClusterDdlError, clusterPlan, clusterStatements, REPLICATED_EVERYWHERE, type ClusterPlan } from './cluster-ddl.js';
import { loadMigrations, loadViews, migrate, migrationVars, retentionTtls, SCHEMA_MIGRATIONS_DDL } from './migrate.js';

const CLUSTER = 'analytics_2x2';
const ON = `ON CLUSTER '${CLUSTER}'`;
const vars = migrationVars({ retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5 });
const migrations = loadMigrations(vars);
const single = [SCHEMA_MIGRATIONS_DDL, ...migrations.flatMap((m) => m.statements)];
const plan: ClusterPlan = clusterPlan(CLUSTER, single);
const views = loadViews(vars);

/** The statements migrate() runs on a fresh cluster, each with the single-node statement it came from. */
const generated = [...single, ...views].map((from) => ({ from, to: clusterStatements(from, plan) }));

const createdTables = (sql: string[]) =>
  sql.flatMap((s) => {
    const m = /^CREATE TABLE (?:IF NOT EXISTS )?(\w+)/i.exec(s);
    return m ? [m[1]!] : [];
  });

/** What follows a CREATE TABLE's engine clause: PARTITION BY, ORDER BY, TTL, SETTINGS. */
const clauses = (create: string) => create.replace(/^[\s\S]*?ENGINE\s*=\s*\w+(\([^)]*\))?/i, '').trim();

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = tempDir('cluster-ddl');
  store = await openStore({ url: undefined, database: 'default', username: undefined, password: undefined, dataDir: dir, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  // The single-node schema, to check each sharding key against the real columns.
  await migrate(store.client, vars);
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('migrations on a ClickHouse cluster (CLICKHOUSE_CLUSTER)', () => {
  it('covers every migration file and every statement in it', () => {
    expect(migrations.map((m) => m.version)).toEqual(fs.readdirSync(new URL('../../schemas/', import.meta.url)).filter((f) => /^\d{3}_/.test(f)).map((f) => Number(f.slice(0, 3))));
    for (const { from, to } of generated) expect(to.length, from.slice(0, 80)).toBeGreaterThan(0);
    // Every table the single-node migrations create is on the cluster, as itself (replicated everywhere) or as a
    // local table plus a Distributed table of the same name.
    const tables = createdTables(single);
    expect(tables).toContain('events');
    for (const t of tables) {
      const made = createdTables(generated.flatMap((g) => g.to));
      expect(made).toContain(t);
      if (!REPLICATED_EVERYWHERE.has(t)) expect(made).toContain(`${t}_local`);
    }
  });

  it('creates Replicated local tables ON CLUSTER with the engine family, keys, TTL and settings of the single-node table', () => {
    for (const { from, to } of generated.filter((g) => /^CREATE TABLE/i.test(g.from))) {
      const name = createdTables([from])[0]!;
      const family = /ENGINE\s*=\s*(\w*)MergeTree/i.exec(from)![1]!;
      const local = to[0]!;
      const everywhere = REPLICATED_EVERYWHERE.has(name);
      expect(local).toMatch(new RegExp(`^CREATE TABLE (IF NOT EXISTS )?${everywhere ? name : `${name}_local`} ${ON} \\(`));
      const path = everywhere ? `'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'` : `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;
      expect(local).toContain(`ENGINE = Replicated${family}MergeTree(${path})`);
      // Columns, PARTITION BY, ORDER BY and TTL exactly as on one node; the deduplication window made replicated.
      expect(local).toContain(from.slice(from.indexOf('('), from.search(/\)\s*ENGINE/) + 1));
      expect(clauses(local)).toBe(clauses(from).replace('non_replicated_deduplication_window', 'replicated_deduplication_window'));
      if (/\bTTL\b/.test(clauses(from))) expect(clauses(local)).toMatch(/\bTTL\b/);
      expect(local).not.toContain('non_replicated_deduplication_window');
      if (everywhere) expect(to).toHaveLength(1);
      else {
        expect(to).toHaveLength(2);
        expect(to[1]).toMatch(new RegExp(`^CREATE TABLE (IF NOT EXISTS )?${name} ${ON} AS ${name}_local ENGINE = Distributed\\('${CLUSTER}', currentDatabase\\(\\), ${name}_local, cityHash64\\(.+\\)\\)$`));
      }
    }
    // The retention TTLs of the configuration are on the local tables, where the data is.
    const created = (t: string) => generated.flatMap((g) => g.to).find((x) => x.startsWith(`CREATE TABLE IF NOT EXISTS ${t} `))!;
    expect(created('events_local')).toContain('TTL toDateTime(ts) + INTERVAL 180 DAY');
    expect(created('agg_pages_daily_local')).toContain('TTL day + INTERVAL 25 MONTH');
    expect(created('agg_visitor_days_local')).toContain('TTL day + INTERVAL 180 DAY');
    expect(created('rollup_days')).toContain('TTL day + INTERVAL 25 MONTH');
  });

  it('shards by a hash of the visitor id wherever there is one, else by a hash of the sorting key', () => {
    const key = (t: string) => new RegExp(`ENGINE = Distributed\\('${CLUSTER}', currentDatabase\\(\\), ${t}_local, (.+)\\)$`).exec(generated.flatMap((g) => g.to).find((s) => s.includes(`${t}_local, `))!)?.[1];
    for (const t of ['events', 'agg_visitor_days', 'agg_pageview_engagement', 'agg_visitor_pageviews']) expect(key(t), t).toBe('cityHash64(visitor_id)');
    expect(key('agg_pages_daily')).toBe('cityHash64(site, day, path)');
    expect(key('agg_entry_exit_daily')).toBe('cityHash64(site, day, page)');
    expect(key('agg_click_cells')).toBe('cityHash64(site, path, viewport, day, cell_y, cell_x)');
    // Not sharded: read inside queries over sharded tables (`day IN (SELECT day FROM rollup_days)`).
    expect(plan.sharded.has('rollup_days')).toBe(false);
    expect(plan.sharded.has('schema_migrations')).toBe(false);
  });

  it('each sharding key is a UInt64 expression over its table (checked by ClickHouse on the single-node schema)', async () => {
    for (const s of generated.flatMap((g) => g.to)) {
      const m = /^CREATE TABLE (?:IF NOT EXISTS )?(\w+) .* ENGINE = Distributed\('[^']+', currentDatabase\(\), \w+, (.+)\)$/.exec(s);
      if (!m) continue;
      const described = await store.client.query({ query: `DESCRIBE (SELECT ${m[2]} AS k FROM ${m[1]})`, format: 'JSONEachRow' });
      expect((await described.json<{ type: string }>())[0]!.type, m[1]).toBe('UInt64');
    }
  });

  it('creates every materialised view ON CLUSTER, reading events_local and writing the local part of its target', () => {
    const mvs = generated.filter((g) => /^CREATE MATERIALIZED VIEW/i.test(g.from));
    expect(mvs.length).toBeGreaterThanOrEqual(10);
    for (const { from, to } of mvs) {
      const [, name, target] = /VIEW (?:IF NOT EXISTS )?(\w+)\s+TO\s+(\w+)/i.exec(from)!;
      expect(to).toHaveLength(1);
      expect(to[0]).toMatch(new RegExp(`^CREATE MATERIALIZED VIEW (IF NOT EXISTS )?${name} ${ON} TO ${target}_local AS `));
      expect(to[0]).toMatch(/\bFROM\s+events_local\b/);
      // No read of a sharded table through its Distributed name: a view on a shard sees that shard's inserts.
      for (const m of to[0]!.matchAll(/\b(?:FROM|JOIN)\s+(\w+)/gi)) expect(plan.sharded.has(m[1]!), `${name} reads ${m[1]}`).toBe(false);
      // The SELECT itself is unchanged but for the table names.
      expect(to[0]!.slice(to[0]!.indexOf(' AS ') + 4).replace(/\b(\w+)_local\b/g, '$1')).toBe(from.slice(from.search(/\sAS\s/) + 4).trim().replace(/^\s*/, ''));
    }
  });

  it('places every ALTER, DROP and backfill where the data is', () => {
    for (const { from, to } of generated.filter((g) => /^(ALTER|DROP|INSERT)/i.test(g.from))) {
      const table = /^(?:ALTER TABLE|DROP (?:VIEW|TABLE) (?:IF EXISTS )?|INSERT INTO)\s*(\w+)/i.exec(from)![1]!;
      if (/^DROP/i.test(from)) {
        for (const s of to) expect(s).toMatch(new RegExp(`^DROP (VIEW|TABLE) (IF EXISTS )?\\w+ ${ON} SYNC$`));
      } else if (/^INSERT/i.test(from)) {
        // A backfill runs once, through the Distributed table, and waits for the shards.
        expect(to).toHaveLength(1);
        if (plan.sharded.has(table)) expect(to[0]).toMatch(new RegExp(`^INSERT INTO ${table} \\([^)]*\\) SETTINGS (.*, )?distributed_foreground_insert = 1 (SELECT|WITH)\\b`));
        else expect(to[0]).toBe(from);
      } else if (plan.sharded.has(table)) {
        expect(to[0]).toMatch(new RegExp(`^ALTER TABLE ${table}_local ${ON} `));
        expect(to[0]).not.toContain('non_replicated_deduplication_window');
        // Column changes reach the Distributed table too, without the TTL and codecs that belong to stored parts.
        if (/\b(ADD|DROP|RENAME) COLUMN\b|\bMODIFY COLUMN \w+ (?!TTL\b|CODEC\b|COMMENT\b|REMOVE\b)\w/i.test(from)) {
          expect(to[1]).toMatch(new RegExp(`^ALTER TABLE ${table} ${ON} `));
          expect(to[1]).not.toMatch(/\bTTL\b|\bCODEC\b/);
          for (const kind of ['ADD COLUMN', 'DROP COLUMN', 'MODIFY COLUMN']) expect(to[1]!.split(kind).length, kind).toBe(from.split(kind).length);
        } else expect(to).toHaveLength(1);
      } else {
        // Replicated everywhere: one replica's ALTER reaches all through Keeper.
        expect(to).toHaveLength(1);
        expect(to[0]).not.toContain('ON CLUSTER');
        if (/\bSELECT\b/i.test(from)) expect(to[0]).toContain('allow_nondeterministic_mutations = 1');
      }
    }
    // The runtime retention ALTERs of migrate.ts go to the local tables as well.
    for (const { table, ttl } of retentionTtls(vars)) {
      const [alter] = clusterStatements(`ALTER TABLE ${table} MODIFY TTL ${ttl} SETTINGS materialize_ttl_after_modify = 0`, plan);
      expect(alter).toBe(
        plan.sharded.has(table)
          ? `ALTER TABLE ${table}_local ${ON} MODIFY TTL ${ttl} SETTINGS materialize_ttl_after_modify = 0`
          : `ALTER TABLE ${table} MODIFY TTL ${ttl} SETTINGS materialize_ttl_after_modify = 0`,
      );
    }
    expect(clusterStatements('ALTER TABLE agg_pages_daily MODIFY COLUMN networks TTL day + INTERVAL 30 DAY SETTINGS materialize_ttl_after_modify = 0', plan)).toEqual([
      `ALTER TABLE agg_pages_daily_local ${ON} MODIFY COLUMN networks TTL day + INTERVAL 30 DAY SETTINGS materialize_ttl_after_modify = 0`,
    ]);
  });

  it('creates the analyst views ON CLUSTER over the Distributed names, otherwise unchanged', () => {
    expect(views.length).toBeGreaterThan(5);
    for (const v of views) {
      const [out] = clusterStatements(v, plan);
      const name = /VIEW (?:IF NOT EXISTS )?(\w+)/i.exec(v)![1]!;
      expect(out).toBe(v.replace(new RegExp(`\\b${name}\\b`), `${name} ${ON}`));
    }
  });

  it('every generated statement parses (ClickHouse parser)', async () => {
    for (const s of generated.flatMap((g) => g.to)) {
      const rs = await store.client.query({ query: 'SELECT formatQuerySingleLine({q:String}) AS f', query_params: { q: s }, format: 'JSONEachRow' });
      const [row] = await rs.json<{ f: string }>();
      expect(row!.f, s.slice(0, 100)).toMatch(/^(CREATE|ALTER|DROP|INSERT)/);
    }
  });

  it('refuses what it cannot place, instead of doing it half right', () => {
    expect(() => clusterStatements('CREATE MATERIALIZED VIEW mv AS SELECT 1 FROM events', plan)).toThrow(ClusterDdlError);
    expect(() => clusterStatements('CREATE TABLE t (a UInt8) ENGINE = Memory', plan)).toThrow(/cannot be made replicated/);
    expect(() => clusterStatements('CREATE TABLE t (a UInt8 TTL now()) ENGINE = MergeTree ORDER BY a', plan)).toThrow(/column TTL/);
    expect(() => clusterStatements('RENAME TABLE events TO old_events', plan)).toThrow(/not supported on a cluster/);
    expect(() => clusterPlan("c' SETTINGS x = 1", single)).toThrow(ClusterDdlError);
  });
});
