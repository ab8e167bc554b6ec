/**
 * `npm run privacy-report`: the data inventory a privacy officer checks
 * against the privacy policy. Printed, and written as JSON.
 *
 * Tables, columns, types and TTLs are read from the migrated store itself
 * (system.tables / system.columns), never copied by hand; aggregate columns are
 * explained by the materialised view that fills them (its SELECT, read from
 * the store); prefixes, consent and retention come from the validated config.
 * What each `events` column holds and which anonymiser rule made it comes
 * from the events column table (src/anonymise/row.ts), and the test fails
 * when a column has no description (or a description has no column).
 *
 * Store: with CLICKHOUSE_URL, that server (read-only queries). Otherwise a
 * fresh embedded store in a temporary directory, migrated with this config,
 * so the report never needs the running process's locked DATA_DIR;
 * `--data-dir` reads the configured DATA_DIR's embedded store instead.
 *
 * Usage: npm run privacy-report [-- --out report.json] [--data-dir] [--quiet]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../src/config/config.js';
import { openStore, type Store } from '../src/store/client.js';
import { migrate, migrationVars } from '../src/store/migrate.js';
import { MAX_IPV4_PREFIX, MAX_IPV6_PREFIX } from '../src/anonymise/ip.js';
import { EVENT_TABLE } from '../src/anonymise/row.js';
import { tokensFile } from '../src/query/tokens.js';
import { PENDING_DAYS_SQL, ROLLUP_SQL } from '../src/store/rollup.js';
import { loadAggregates } from '../src/store/aggregator.js';

/**
 * What each column of `events` holds and the rule (src/anonymise/…) that produced it, by column name: taken from
 * the events column table (src/anonymise/row.ts), where each column is defined once.
 */
export const EVENT_COLUMNS: Record<string, { holds: string; rule: string; readBy: string }> = Object.fromEntries(
  EVENT_TABLE.map((c) => [c.name, { holds: c.holds, rule: c.rule, readBy: c.readBy }]),
);

/**
 * Readers of aggregate columns that are code, not a view in the store (the views and the rollup are found by
 * reading their SQL). Every other column of event data must be read by a view, a materialised view or the
 * rollup (test/column-readers.integration.test.ts).
 */
export const CODE_READERS: Record<string, string> = {
  'agg_pages_daily.engagements': 'the exactly-once ledger of the fault tests (docs/operations.md §1): engagements counted at insert time',
};

/**
 * Long-lived daily tables written by the rollup (src/store/rollup.ts), not by a materialised view: the tables its
 * statements are named after (a name with a dot is a column the rollup fills in a table a materialised view fills).
 */
const ROLLUP_TABLES = new Set([...Object.keys(ROLLUP_SQL).filter((k) => !k.includes('.')), 'rollup_days']);

/** Bookkeeping tables that hold no event data. */
export const OTHER_TABLES: Record<string, Record<string, string>> = {
  schema_migrations: { version: 'migration number', name: 'migration file name', applied_at: 'when it was applied' },
};

export interface ColumnReport {
  name: string;
  type: string;
  holds: string;
  rule: string;
  /** Who reads it: views and materialised views of the store, the daily rollup, code, or `awaiting: …` (a reader not built yet). */
  readBy: string[];
}
export interface TableReport {
  name: string;
  engine: string;
  ttl: string;
  /** The time of the oldest row the table holds now (its time column: ts, day, …), or null when it is empty or has none: shows a retention is kept. */
  oldestRow: string | null;
  filledBy: string;
  /** Holds event data (events, or filled from it): every column must have a reader. Bookkeeping tables do not. */
  eventData: boolean;
  columns: ColumnReport[];
}
export interface PrivacyReport {
  generatedAt: string;
  store: string;
  tables: TableReport[];
  analystViews: { names: string[]; kAnonymity: number; note: string };
  ipTruncation: { ipv4Prefix: number; ipv6Prefix: number; maxIpv4Prefix: number; maxIpv6Prefix: number; embeddedIpv4: string; refused: string; ipv6Default: string };
  salts: Record<string, string | number>;
  consent: { honorGpc: boolean; honorDnt: boolean; answer: string };
  retention: { eventsDays: number; aggregatesMonths: number; deadLettersDays: number };
  rawData: { where: string; form: string; howLong: string }[];
}

/** The expressions of a materialised view's SELECT list, by output column name. */
export function selectExpressions(asSelect: string): Record<string, string> {
  const m = /^\s*SELECT\s+([\s\S]+?)\s+FROM\s/i.exec(asSelect);
  if (!m) return {};
  const out: Record<string, string> = {};
  let depth = 0;
  let cur = '';
  const items: string[] = [];
  for (const ch of m[1]!) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      items.push(cur);
      cur = '';
    } else cur += ch;
  }
  items.push(cur);
  for (const item of items) {
    const t = item.trim().replace(/\s+/g, ' ');
    const as = /^(.*) AS (\w+)$/i.exec(t);
    if (as) out[as[2]!] = as[1]!;
    else out[t.split('.').pop()!] = t;
  }
  return out;
}

/** The column a table's rows are dated by: the one its TTL names, else the first Date/DateTime column. */
const TIME_COLUMNS = ['ts', 'day', 'at', 'applied_at', 'rolled_at'];

async function oldestRow(store: Store, table: string, cols: { name: string; type: string }[]): Promise<string | null> {
  const col = TIME_COLUMNS.find((n) => cols.some((c) => c.name === n && /Date/.test(c.type))) ?? cols.find((c) => /^(Date|DateTime)/.test(c.type))?.name;
  if (!col || !/^\w+$/.test(table) || !/^\w+$/.test(col)) return null;
  const rs = await store.client.query({ query: `SELECT toString(min(${col})) AS oldest, count() AS n FROM ${table}`, format: 'JSONEachRow' });
  const [r] = await rs.json<{ oldest: string; n: string | number }>();
  return r && Number(r.n) > 0 ? `${r.oldest} (${col})` : null;
}

export function tableTtl(createTableQuery: string): string {
  const m = /\bTTL\s+([\s\S]+?)(?:\s+SETTINGS\s|$)/.exec(createTableQuery);
  return m ? m[1]!.trim() : 'none';
}

export async function buildPrivacyReport(store: Store, config: Config, now = new Date()): Promise<PrivacyReport> {
  const q = async <T>(query: string) => (await store.client.query({ query, format: 'JSONEachRow' })).json<T>();
  const tables = await q<{ name: string; engine: string; create_table_query: string; engine_full: string; as_select: string }>(
    'SELECT name, engine, create_table_query, engine_full, as_select FROM system.tables WHERE database = currentDatabase() ORDER BY name',
  );
  const columns = await q<{ table: string; name: string; type: string; comment: string }>(
    'SELECT table, name, type, comment FROM system.columns WHERE database = currentDatabase() ORDER BY table, position',
  );
  // Which aggregate statement fills which table, and with what (schemas/aggregates.sql: the background
  // aggregation runs them over agg_staging, a copy of a range of `events`).
  const aggregates = loadAggregates();
  const fills = new Map<string, { view: string; exprs: Record<string, string>; where: string }>();
  for (const a of aggregates) {
    const select = a.sql.slice(a.sql.search(/\bSELECT\b/i));
    const where = /\bWHERE\s+([\s\S]+?)\s+GROUP BY\b/i.exec(select)?.[1]?.replace(/\s+/g, ' ') ?? '';
    fills.set(a.table, { view: `the aggregate of ${a.table} (schemas/aggregates.sql)`, exprs: selectExpressions(select), where });
  }
  // Who reads what: every view's SQL in the store, the aggregates (which read events through their staging
  // copy), and the daily rollup's statements.
  const readers: { name: string; sql: string }[] = [
    ...tables.filter((t) => t.engine === 'View' || t.engine === 'MaterializedView').map((t) => ({ name: `${t.engine === 'View' ? 'view' : 'materialised view'} ${t.name}`, sql: t.as_select || t.create_table_query })),
    ...aggregates.map((a) => ({ name: `aggregate ${a.table} (schemas/aggregates.sql)`, sql: a.sql.replace(/\bagg_staging\b/g, 'events') })),
    { name: 'daily rollup (src/store/rollup.ts)', sql: [PENDING_DAYS_SQL, ...Object.values(ROLLUP_SQL)].join('\n') },
  ];
  const word = (w: string) => new RegExp(`\\b${w}\\b`);
  const readersOf = (table: string, column: string): string[] =>
    readers.filter((r) => word(table).test(r.sql) && word(column).test(r.sql) && !r.name.endsWith(` ${table}`)).map((r) => r.name);
  const report: TableReport[] = [];
  for (const t of tables) {
    if (t.engine === 'View' || t.engine === 'MaterializedView') continue;
    const fill = fills.get(t.name);
    const cols = columns.filter((c) => c.table === t.name);
    report.push({
      name: t.name,
      engine: t.engine,
      // engine_full: the table's own TTL (create_table_query also holds column TTLs).
      ttl: tableTtl(t.engine_full),
      oldestRow: await oldestRow(store, t.name, cols),
      eventData: t.name === 'events' || t.name === 'agg_staging' || fill !== undefined || (ROLLUP_TABLES.has(t.name) && t.name !== 'rollup_days'),
      filledBy:
        t.name === 'events'
          ? 'anonymiser worker (src/anonymise/pipeline.ts), batched inserts'
          : fill
            ? `${fill.view}, from events in the background (src/store/aggregator.ts)${fill.where ? ` WHERE ${fill.where}` : ''}`
            : t.name === 'agg_staging'
              ? 'background aggregation (src/store/aggregator.ts): the rows of the range being aggregated, emptied when the run is done'
            : ROLLUP_TABLES.has(t.name)
              ? 'daily rollup of finished days from the short-lived aggregates (src/store/rollup.ts)'
              : 'migrations',
      columns: cols.map((c) => ({ ...describe(c), readBy: [...readersOf(t.name, c.name), ...declaredReaders(t.name, c.name)] })),
    });
  }
  function declaredReaders(table: string, column: string): string[] {
    const d = table === 'events' ? EVENT_COLUMNS[column]?.readBy : CODE_READERS[`${table}.${column}`];
    return d ? [d] : [];
  }
  function describe(c: { table: string; name: string; type: string; comment: string }): Omit<ColumnReport, 'readBy'> {
    if (c.table === 'events') {
      const d = EVENT_COLUMNS[c.name];
      return { name: c.name, type: c.type, holds: d?.holds ?? '', rule: d?.rule ?? '' };
    }
    const fill = fills.get(c.table);
    if (fill) {
      const expr = fill.exprs[c.name] ?? '';
      const src = expr === 'visitor_id' ? ' (the daily visitor hash itself)' : /visitor_id/.test(expr) ? ' (distinct-count state of daily visitor hashes)' : '';
      if (expr) return { name: c.name, type: c.type, holds: `from anonymised events: ${expr}${src}`, rule: fill.view };
    }
    if (c.table === 'agg_staging') {
      return { name: c.name, type: c.type, holds: `a copy of events.${c.name} for the range being aggregated (seconds of events; emptied when the run is done)`, rule: 'background aggregation (src/store/aggregator.ts)' };
    }
    // Tables filled by the daily rollup (and columns the views fill later) describe themselves in the schema (COMMENT).
    const other = OTHER_TABLES[c.table]?.[c.name] || c.comment || '';
    return { name: c.name, type: c.type, holds: other, rule: other ? (ROLLUP_TABLES.has(c.table) ? 'daily rollup (src/store/rollup.ts)' : 'migrations') : '' };
  }
  const views = tables.filter((t) => t.engine === 'View').map((t) => t.name);
  const a = config.anonymise;
  // The audit log's TTL as the store has it; a user without access to system tables, or chDB (which keeps no system logs), finds none.
  const queryLog = await q<{ create_table_query: string }>("SELECT create_table_query FROM system.tables WHERE database = 'system' AND name = 'query_log'").catch(() => []);
  const queryLogTtl = queryLog[0]
    ? `TTL ${tableTtl(queryLog[0].create_table_query)}`
    : store.embedded
      ? 'not kept: the embedded chDB writes no system.query_log'
      : 'not created yet (or not visible to this user); the shipped server config (deploy/clickhouse/config.d/anon.xml) gives it TTL event_date + INTERVAL 90 DAY';
  return {
    generatedAt: now.toISOString(),
    store: store.embedded ? 'embedded ClickHouse (chDB), schema migrated with this configuration' : `ClickHouse server, database ${config.store.database}`,
    tables: report,
    analystViews: {
      names: views,
      kAnonymity: config.store.kAnonymity,
      note: `analysts read only these views (read-only role, through a syntax-only guard, audited in query_audit); a group is shown for a UTC day only with at least ${config.store.kAnonymity} distinct visitors and ${config.store.kAnonymity} distinct networks, and every figure is a sum of such days (docs/analysts.md)`,
    },
    ipTruncation: {
      ipv4Prefix: a.ipv4Prefix,
      ipv6Prefix: a.ipv6Prefix,
      maxIpv4Prefix: MAX_IPV4_PREFIX,
      maxIpv6Prefix: MAX_IPV6_PREFIX,
      embeddedIpv4: 'IPv4-mapped, IPv4-compatible, 6to4 (2002::/16), NAT64 (64:ff9b::/96) and Teredo (2001::/32) addresses are truncated as their IPv4',
      refused: 'non-canonical forms (inet_aton legacy, zone ids, ports, whitespace) are stored as "" and counted (anon_ip_refused_total)',
      ipv6Default:
        'IPv6 is kept to /40 by default, not /48. An IPv4 /24 is 256 addresses, each one subscriber at a time: a crowd of up to 256 households. ' +
        'IPv6 is assigned per customer as a whole prefix (RIPE-690: /48 or /56 per end site; /56 is common for households, /48 for businesses ' +
        'and at some ISPs for everyone, /64 on mobile). Where customers get a /48, a stored /48 is one customer, as identifying as a full IPv4 ' +
        'address; a /40 holds 256 /48s (65,536 /56s), at least the crowd of an IPv4 /24 under every common assignment. Cost: IPv6 networks are ' +
        'coarser for the distinct-network count of the analyst views. IPV6_PREFIX may narrow it further, or widen it up to /48 where an operator ' +
        'knows its visitors\' ISPs assign /56 or smaller',
    },
    salts: {
      bytes: 32,
      source: 'crypto.randomBytes, one per UTC day for the whole deployment (Redis SET NX)',
      stored: `Redis only, key ${config.redis.prefix}:salt:YYYY-MM-DD; cached in worker memory until it expires; never logged or written elsewhere`,
      lifetime: 'expires at the end of the following UTC day: at most 48 h; only today\'s and yesterday\'s exist',
      keyedWith:
        'ids are keyed by HMAC-SHA256(worker secret, day salt); the worker secret is derived from the workers\' private sealing key (SEAL_PRIVATE_KEY), never stored in Redis or ClickHouse: a Redis dump with every table cannot recompute an id (test/admin-reidentify.integration.test.ts)',
      afterExpiry: 'ids of that day can no longer be recomputed by anyone; older events get a one-off unstored salt',
    },
    consent: {
      honorGpc: config.consent.honorGpc,
      honorDnt: config.consent.honorDnt,
      answer: '202 {"accepted":0,"dropped":"consent"} before the body is read; nothing is sealed or stored; counted (anon_events_dropped_total{reason="consent"})',
    },
    retention: { eventsDays: config.store.retentionDays, aggregatesMonths: config.store.aggregateRetentionMonths, deadLettersDays: config.queue.dlqRetentionDays },
    rawData: [
      { where: 'collector process memory', form: 'plaintext request context (IP, UA) and events', howLong: 'until sealed into a queue job (milliseconds)' },
      {
        where: `Redis, BullMQ queue ${config.redis.prefix}:${config.redis.queueName}:*`,
        form: 'sealed: X25519 + AES-256-GCM, only workers hold the private key',
        howLong: `until processed (jobs are removed on completion); failed jobs stay sealed in the dead-letter set for at most ${config.queue.dlqRetentionDays} days`,
      },
      {
        where: 'Redis AOF/RDB files (appendonly.aof, dump.rdb), replicas and their backups',
        form: 'copies of the sealed jobs and of the day salts (plaintext salt bytes: with a salt AND the workers\' private key, visitor ids of that day can be recomputed from a guessed IP + UA)',
        howLong:
          'a deleted job or expired salt stays in the AOF until it is rewritten, and in a backup for as long as the backup is kept: run BGREWRITEAOF daily (e.g. cron `redis-cli BGREWRITEAOF`) and keep Redis backups short-lived (days, not months)',
      },
      {
        where: `Redis, rate-limit keys ${config.redis.prefix}:rl:*`,
        form: 'per-address counters named by an HMAC-SHA256 of the client address (key RATE_LIMIT_SECRET, or random per process; never stored in Redis), per-site counters by site key',
        howLong: `expire with their window (RATE_LIMIT_WINDOW_MS = ${config.rateLimit.windowMs} ms)`,
      },
      { where: 'worker process memory', form: 'plaintext after unsealing', howLong: 'while the job is anonymised; never logged; UA strings as keys of a bounded LRU cache' },
      { where: 'ClickHouse', form: 'anonymised rows only (tables above)', howLong: `events ${config.store.retentionDays} days, aggregates ${config.store.aggregateRetentionMonths} months (TTL)` },
      {
        where: 'ClickHouse system.query_log (server mode)',
        form: 'SQL text of every analyst query, with user and time: whatever an analyst types into a query (a path, a value) is kept verbatim',
        howLong: queryLogTtl,
      },
      {
        where: `${config.seal.keyDir} (DATA_DIR/keys)`,
        form: 'development sealing key pair, mode 0600: the private key opens every sealed job in Redis and in its AOF/RDB files and backups, and with a live salt recomputes that day\'s visitor ids (the worker secret is derived from it); in production it is never read from here (SEAL_PRIVATE_KEY only)',
        howLong: `until deleted; generated only outside production when SEAL_PUBLIC_KEY/SEAL_PRIVATE_KEY are unset${config.production ? ' (this configuration is production: never generated)' : ''}`,
      },
      {
        where: `${tokensFile(config.store.dataDir)} (DATA_DIR tokens file)`,
        form: 'development analyst and admin bearer tokens, mode 0600; no event data, but they grant /query access',
        howLong: `until deleted; generated only outside production when ANALYST_TOKEN/ADMIN_TOKEN are unset${config.production ? ' (this configuration is production: never generated)' : ''}`,
      },
    ],
  };
}

export function formatReport(r: PrivacyReport): string {
  const lines: string[] = [`Privacy report (${r.generatedAt}) — ${r.store}`, ''];
  for (const t of r.tables) {
    lines.push(`table ${t.name} [${t.engine}] TTL ${t.ttl}`, `  filled by: ${t.filledBy}`, `  oldest row: ${t.oldestRow ?? 'none (empty)'}`);
    for (const c of t.columns) {
      lines.push(`  - ${c.name} ${c.type}: ${c.holds || '(undescribed)'}${c.rule && c.rule !== c.holds ? ` — ${c.rule}` : ''}`);
      if (t.eventData) lines.push(`      read by: ${c.readBy.length ? c.readBy.join('; ') : '(NOTHING: drop it or give it a reader)'}`);
    }
    lines.push('');
  }
  lines.push(`analyst views (k = ${r.analystViews.kAnonymity}): ${r.analystViews.names.join(', ')}`, '');
  lines.push(`IP truncation: IPv4 /${r.ipTruncation.ipv4Prefix} (max /${r.ipTruncation.maxIpv4Prefix}), IPv6 /${r.ipTruncation.ipv6Prefix} (max /${r.ipTruncation.maxIpv6Prefix})`);
  lines.push(`  ${r.ipTruncation.embeddedIpv4}`, `  ${r.ipTruncation.refused}`, `  ${r.ipTruncation.ipv6Default}`, '');
  lines.push('salts:', ...Object.entries(r.salts).map(([k, v]) => `  ${k}: ${v}`), '');
  lines.push(`consent: Sec-GPC ${r.consent.honorGpc ? 'honoured' : 'ignored'}, DNT ${r.consent.honorDnt ? 'honoured' : 'ignored'}; ${r.consent.answer}`, '');
  lines.push(`retention: events ${r.retention.eventsDays} days, aggregates ${r.retention.aggregatesMonths} months, dead letters ${r.retention.deadLettersDays} days`, '');
  lines.push('where raw data can exist:', ...r.rawData.map((d) => `  - ${d.where}: ${d.form}; ${d.howLong}`));
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const config = loadConfig();
  const outIndex = argv.indexOf('--out');
  const out = path.resolve(outIndex !== -1 && argv[outIndex + 1] ? argv[outIndex + 1]! : 'privacy-report.json');
  let tmp = '';
  let storeConfig = config.store;
  if (!config.store.url && !argv.includes('--data-dir')) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'anon-privacy-report-'));
    storeConfig = { ...config.store, dataDir: tmp };
  }
  const store = await openStore(storeConfig);
  try {
    if (tmp) await migrate(store.client, migrationVars(config.store));
    const report = await buildPrivacyReport(store, config);
    fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    if (!argv.includes('--quiet')) console.log(formatReport(report));
    console.log(`\nwritten to ${out}`);
  } finally {
    await store.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('privacy-report.ts')) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`privacy-report: ${(err as Error).message}`);
    process.exit(1);
  });
}
