/**
 * Numbered migrations: schemas/NNN_name.sql, applied in order, each recorded
 * in `schema_migrations`, so running them again is a no-op. Templates like
 * {{RETENTION_DAYS}} are filled from validated config (integers only).
 * Retention is applied on every start, so changing RETENTION_DAYS changes the
 * table's TTL without a new migration file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { clusterPlan, runDdl, storageTable, type ClusterPlan } from './cluster-ddl.js';
import { AUDIT_RETENTION_DAYS } from './audit.js';
import { NETWORK_COLUMNS, NETWORK_DAYS } from './rollup.js';

export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');

export interface MigrationVars {
  RETENTION_DAYS: number;
  AGGREGATE_RETENTION_MONTHS: number;
  K_ANONYMITY: number;
  /** CLICKHOUSE_CLUSTER, not a template variable: every statement is rewritten for that cluster (src/store/cluster-ddl.ts). */
  cluster?: string;
}

export function migrationVars(store: { retentionDays: number; aggregateRetentionMonths: number; kAnonymity: number; cluster?: string }): MigrationVars {
  const vars: MigrationVars = { RETENTION_DAYS: store.retentionDays, AGGREGATE_RETENTION_MONTHS: store.aggregateRetentionMonths, K_ANONYMITY: store.kAnonymity };
  if (store.cluster) vars.cluster = store.cluster;
  return vars;
}

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

function render(file: string, vars: MigrationVars): string {
  return fs.readFileSync(file, 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    const v = (vars as unknown as Record<string, number>)[k];
    if (!Number.isInteger(v)) throw new Error(`${path.basename(file)}: unknown template variable {{${k}}}`);
    return String(v);
  });
}

export function loadMigrations(vars: MigrationVars, dir = SCHEMA_DIR): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((file) => ({
    version: Number(file.slice(0, 3)),
    name: file.replace(/\.sql$/, ''),
    statements: splitStatements(render(path.join(dir, file), vars)),
  }));
}

/** The analyst views (schemas/views.sql): CREATE OR REPLACE, so K_ANONYMITY changes apply at start. */
export function loadViews(vars: MigrationVars, dir = SCHEMA_DIR): string[] {
  return splitStatements(render(path.join(dir, 'views.sql'), vars));
}

/** Splits on semicolons that end a line, after removing `--` comment lines. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now())
            ENGINE = ReplacingMergeTree ORDER BY version`;

/** On a ClickHouse cluster (vars.cluster): where each table of the migrations lives. Undefined on one node. */
export function clusterPlanOf(vars: MigrationVars): ClusterPlan | undefined {
  return vars.cluster ? clusterPlan(vars.cluster, [SCHEMA_MIGRATIONS_DDL, ...loadMigrations(vars).flatMap((m) => m.statements)]) : undefined;
}

/**
 * Migrations that apply to one node only, skipped (and recorded) on a cluster: 041 moves the aggregates off the
 * insert path, whose watermark needs the block numbers of a non-replicated MergeTree (src/store/aggregator.ts);
 * a cluster keeps its materialised views (docs/scaling.md).
 */
export const SINGLE_NODE_MIGRATIONS: ReadonlySet<number> = new Set([41]);

export async function migrate(client: ClickHouseClient, vars: MigrationVars, log?: { info: (o: object, m: string) => void }): Promise<number> {
  // Every statement goes through runDdl: as written on one node, rewritten for CLICKHOUSE_CLUSTER on a cluster.
  const plan = clusterPlanOf(vars);
  await runDdl(client, SCHEMA_MIGRATIONS_DDL, plan);
  const rs = await client.query({ query: 'SELECT version FROM schema_migrations FINAL', format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
  let applied = 0;
  for (const m of loadMigrations(vars)) {
    if (done.has(m.version)) continue;
    if (!(plan && SINGLE_NODE_MIGRATIONS.has(m.version))) for (const statement of m.statements) await runDdl(client, statement, plan);
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    log?.info({ migration: m.name }, 'applied migration');
    applied++;
  }
  await applyRetention(client, vars, log);
  for (const statement of loadViews(vars)) await runDdl(client, statement, plan);
  return applied;
}

/**
 * Every table with a retention TTL and the TTL it must have under the current
 * config. agg_visitor_days, agg_pageview_engagement and agg_visitor_pageviews
 * hold daily visitor and page-view hashes, so they expire with the raw events;
 * the daily rollups made from them (schemas/003_rollups.sql, src/store/rollup.ts)
 * hold only counts and states and keep the aggregate retention.
 */
export function retentionTtls(vars: MigrationVars): { table: string; ttl: string; interval: string }[] {
  const aggregates = [
    'agg_pages_daily', 'agg_click_cells', 'agg_click_targets', 'agg_devices_daily', 'agg_page_devices_daily', 'agg_sources_daily', 'agg_custom_daily',
    'agg_engagement_daily', 'agg_scroll_daily', 'agg_visible_time_daily', 'agg_entry_exit_daily', 'agg_transitions_daily', 'rollup_days',
    'agg_heatmap_cells', 'agg_heatmap_widths', 'agg_heatmap_targets', 'agg_element_cells', 'agg_page_frustration', 'agg_quick_backs_daily',
    // schemas/020 (issue 13)
    'agg_items_daily', 'agg_custom_props_daily', 'agg_engagement_device_daily', 'agg_scroll_device_daily', 'agg_visible_time_device_daily', 'agg_custom_props_other_daily',
    'agg_page_params_daily',
  ];
  return [
    { table: 'events', ttl: `toDateTime(ts) + INTERVAL ${vars.RETENTION_DAYS} DAY`, interval: `toIntervalDay(${vars.RETENTION_DAYS})` },
    ...['agg_visitor_days', 'agg_pageview_engagement', 'agg_visitor_pageviews', 'agg_visitor_networks', 'agg_visitor_steps', 'agg_visitor_arms'].map((table) => ({
      table,
      ttl: `day + INTERVAL ${vars.RETENTION_DAYS} DAY`,
      interval: `toIntervalDay(${vars.RETENTION_DAYS})`,
    })),
    ...aggregates.map((table) => ({
      table,
      ttl: `day + INTERVAL ${vars.AGGREGATE_RETENTION_MONTHS} MONTH`,
      interval: `toIntervalMonth(${vars.AGGREGATE_RETENTION_MONTHS})`,
    })),
    // The event ids already aggregated (schemas/040_aggregation_state.sql): a fixed two days and a margin, not a setting.
    { table: 'agg_event_ids', ttl: 'day + INTERVAL 3 DAY', interval: 'toIntervalDay(3)' },
    // The audit trail of POST /query: a fixed retention, not a setting (schemas/006_query_audit.sql).
    { table: 'query_audit', ttl: `toDateTime(at) + INTERVAL ${AUDIT_RETENTION_DAYS} DAY`, interval: `toIntervalDay(${AUDIT_RETENTION_DAYS})` },
  ];
}

/** The interval a TTL clause holds, as `toIntervalDay(N)` / `toIntervalMonth(N)`, in days (a month as 31): to tell a shorter retention from a longer one. */
export function ttlDays(ddl: string): number | undefined {
  // The table's TTL, after its column list (a column may have a TTL of its own: schemas/005_networks.sql).
  const columnsEnd = ddl.lastIndexOf(') ENGINE');
  const m = /\bTTL\b[\s\S]*?toInterval(Day|Month)\((\d+)\)/.exec(columnsEnd < 0 ? ddl : ddl.slice(columnsEnd));
  if (!m) return undefined;
  return Number(m[2]) * (m[1] === 'Month' ? 31 : 1);
}

/**
 * Brings each table's TTL in line with RETENTION_DAYS / AGGREGATE_RETENTION_MONTHS
 * when the config changed.
 *
 * A longer retention only changes the clause (materialize_ttl_after_modify = 0,
 * in the statement itself: a per-call setting would stick to the embedded
 * engine's session); rows already gone stay gone and nothing is rewritten.
 * A shorter one is a promise to forget sooner, and ClickHouse applies a new
 * TTL to existing parts only on their next merge, which for a quiet month's
 * partition may be never: so the TTL is then materialised at once
 * (`MATERIALIZE TTL`, waited for), and rows older than the new retention are
 * gone when the start completes (test: src/store/store.integration.test.ts).
 */
export async function applyRetention(client: ClickHouseClient, vars: MigrationVars, log?: { info: (o: object, m: string) => void }): Promise<void> {
  const rs = await client.query({
    // engine_full holds the table's own TTL only; create_table_query also has column TTLs (schemas/005, 008).
    query: 'SELECT name, engine_full AS create_table_query FROM system.tables WHERE database = currentDatabase()',
    format: 'JSONEachRow',
  });
  const tables = new Map((await rs.json<{ name: string; create_table_query: string }>()).map((r) => [r.name, r.create_table_query]));
  // On a cluster the TTL is on each table's local part (the Distributed one has none).
  const plan = clusterPlanOf(vars);
  for (const { table, ttl, interval } of retentionTtls(vars)) {
    const ddl = tables.get(storageTable(table, plan));
    if (ddl === undefined || ddl.includes(interval)) continue;
    const before = ttlDays(ddl);
    const after = ttlDays(`TTL ${interval}`);
    await runDdl(client, `ALTER TABLE ${table} MODIFY TTL ${ttl} SETTINGS materialize_ttl_after_modify = 0`, plan);
    log?.info({ table, ttl: interval }, 'retention changed');
    if (before === undefined || (after !== undefined && after < before)) {
      const t0 = Date.now();
      await runDdl(client, `ALTER TABLE ${table} MATERIALIZE TTL SETTINGS mutations_sync = 2`, plan);
      log?.info({ table, ttl: interval, ms: Date.now() - t0 }, 'retention shortened: rows past it removed now');
    }
  }
  await applyColumnRetention(client, vars, log);
}

/**
 * The network columns (schemas/005_networks.sql) hold prefix hashes, and a
 * prefix hash beside a visitor hash (or in a group of one) would link a
 * visitor's daily ids across days as the raw prefix did (schemas/008). They
 * are needed only until the daily rollup has counted a day's networks
 * (day <= today - ROLLUP_LAG_DAYS), so each has a column TTL of NETWORK_DAYS
 * (src/store/rollup.ts), set here at every start; a shorter one is
 * materialised at once. `days` is for tests that seed days long past.
 */
export async function applyColumnRetention(client: ClickHouseClient, vars: MigrationVars, log?: { info: (o: object, m: string) => void }, days = NETWORK_DAYS): Promise<void> {
  const interval = `toIntervalDay(${days})`;
  const plan = clusterPlanOf(vars);
  for (const [table, name] of NETWORK_COLUMNS) {
    const rs = await client.query({ query: 'SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}', query_params: { t: storageTable(table, plan) }, format: 'JSONEachRow' });
    const ddl = (await rs.json<{ create_table_query: string }>())[0]?.create_table_query;
    const at = ddl?.indexOf(`\`${name}\` `) ?? -1;
    if (!ddl || at < 0) continue;
    const next = ddl.slice(at + 1).search(/, `|\) ENGINE/);
    const column = ddl.slice(at, next < 0 ? undefined : at + 1 + next);
    if (column.includes(interval)) continue;
    const before = /toIntervalDay\((\d+)\)/.exec(column)?.[1];
    await runDdl(client, `ALTER TABLE ${table} MODIFY COLUMN ${name} TTL day + INTERVAL ${days} DAY SETTINGS materialize_ttl_after_modify = 0`, plan);
    log?.info({ table, column: name, ttl: interval }, 'retention changed');
    // Shorter: forget now, as for the table TTLs (applyRetention).
    if (before === undefined || days < Number(before)) {
      await runDdl(client, `ALTER TABLE ${table} MATERIALIZE TTL SETTINGS mutations_sync = 2`, plan);
    }
  }
}
