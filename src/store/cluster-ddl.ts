/**
 * The migrations on a ClickHouse cluster (CLICKHOUSE_CLUSTER=<name>): every
 * statement of schemas/*.sql and of src/store/migrate.ts, written for one
 * node, is rewritten here for a cluster of shards and replicas. The SQL files
 * stay the one description of the schema; this module only changes where
 * each table lives.
 *
 * Design note (docs/scaling.md §ClickHouse cluster has the operator's view):
 * - **Sharded tables** (every table but the ones below): a local table
 *   `<name>_local` on every node, `Replicated…MergeTree` (the same engine
 *   family, ORDER BY, PARTITION BY and TTL as on one node), created
 *   `ON CLUSTER`; and a `Distributed` table under the original name over
 *   them, so the workers, the rollup and the analyst views use the names
 *   they always did.
 * - **Sharding key: a hash of the visitor id**, for every table that has a
 *   `visitor_id` column. All of a visitor's events of a day land on one
 *   shard, so (1) a redelivered or re-sent event (same visitor id, same
 *   event id) meets its first copy there and ReplacingMergeTree collapses it,
 *   and (2) the materialised views, which fire on each shard for the rows it
 *   receives, see whole visitor-days and page views: per-visitor facts
 *   (entry/exit page, bounce, the largest engagement report of a page view,
 *   transitions) are never split across shards. Sharding by event id (the
 *   earlier idea in docs/operations.md) keeps (1) but breaks (2). Tables
 *   without a visitor (page, click, device, source aggregates, the daily
 *   rollups) are sharded by a hash of their whole sorting key: only direct
 *   inserts through the Distributed table use it (rollups, backfills), and a
 *   row of the same key always lands on the same shard, so a rollup run
 *   twice still replaces its rows (FINAL runs per shard).
 * - **Replicated everywhere, not sharded**: `rollup_days` (the analyst views
 *   ask `day IN (SELECT day FROM rollup_days)` inside queries over sharded
 *   tables; a shard must answer that from its own copy, and a
 *   Distributed table there would be a double-distributed subquery) and
 *   `schema_migrations` (whichever node the migrating client reaches).
 *   One replication path for the whole cluster, replica `{shard}-{replica}`.
 * - **Materialised views** are created ON CLUSTER and read `events_local`,
 *   writing `<target>_local`: each shard aggregates what it stores.
 * - **Deduplication**: `non_replicated_deduplication_window` becomes
 *   `replicated_deduplication_window` (replicated tables deduplicate retried
 *   inserts by insert_deduplication_token on their own).
 * - Backfills (`INSERT … SELECT`) run once, through the Distributed tables,
 *   in the foreground; mutations whose condition reads another table are
 *   allowed as non-deterministic (each replica evaluates the subquery).
 *
 * A statement this module does not know is refused with ClusterDdlError, so
 * a new migration that needs thought fails the DDL test
 * (src/store/cluster-ddl.test.ts) instead of doing something half right.
 */

import type { ClickHouseClient } from '@clickhouse/client';

/** Tables replicated to every node instead of sharded (see the design note). */
export const REPLICATED_EVERYWHERE: ReadonlySet<string> = new Set(['rollup_days', 'schema_migrations']);

/** The suffix of a sharded table's local part. */
export const LOCAL_SUFFIX = '_local';

export class ClusterDdlError extends Error {
  override readonly name = 'ClusterDdlError';
}

export interface ClusterPlan {
  /** CLICKHOUSE_CLUSTER: a name in the servers' remote_servers, or a macro such as {cluster}. */
  readonly cluster: string;
  /** Tables created by the migrations that are sharded (a local table + a Distributed one). */
  readonly sharded: ReadonlySet<string>;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

/** The plan for a set of migration statements: every CREATE TABLE not replicated everywhere is sharded. */
export function clusterPlan(cluster: string, statements: readonly string[]): ClusterPlan {
  if (!/^([A-Za-z_][A-Za-z0-9_-]{0,63}|\{[A-Za-z_][A-Za-z0-9_]{0,63}\})$/.test(cluster)) throw new ClusterDdlError(`not a cluster name: ${JSON.stringify(cluster)}`);
  const sharded = new Set<string>();
  for (const s of statements) {
    const m = new RegExp(`^CREATE\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(${NAME})\\b`, 'i').exec(s.trim());
    if (m && !REPLICATED_EVERYWHERE.has(m[1]!)) sharded.add(m[1]!);
  }
  return { cluster, sharded };
}

/** The statements to run on a cluster for one statement written for a single node. */
export function clusterStatements(statement: string, plan: ClusterPlan): string[] {
  const s = statement.trim().replace(/;\s*$/, '');
  const on = `ON CLUSTER '${plan.cluster}'`;
  const isSharded = (t: string) => plan.sharded.has(t);
  const local = (t: string) => `${t}${LOCAL_SUFFIX}`;
  let m: RegExpExecArray | null;

  // CREATE TABLE
  if ((m = new RegExp(`^CREATE\\s+TABLE\\s+(IF\\s+NOT\\s+EXISTS\\s+)?(${NAME})\\s*\\(`, 'i').exec(s))) {
    const ifNot = m[1] ? 'IF NOT EXISTS ' : '';
    const name = m[2]!;
    const open = m[0].length - 1;
    const close = matchingParen(s, open);
    const columns = s.slice(open, close + 1);
    const rest = s.slice(close + 1).trim();
    const engine = new RegExp(`^ENGINE\\s*=\\s*(${NAME})`, 'i').exec(rest);
    if (!engine) throw new ClusterDdlError(`${name}: CREATE TABLE without ENGINE = … right after its columns`);
    let args = '';
    let after = rest.slice(engine[0].length);
    if (/^\s*\(/.test(after)) {
      const a = after.indexOf('(');
      const b = matchingParen(after, a);
      args = after.slice(a + 1, b).trim();
      after = after.slice(b + 1);
    }
    const family = /^(\w*)MergeTree$/i.exec(engine[1]!);
    if (!family || /^Replicated/i.test(engine[1]!)) throw new ClusterDdlError(`${name}: engine ${engine[1]} cannot be made replicated here (a …MergeTree engine, not yet replicated, is expected)`);
    if (/\bTTL\b/i.test(columnDefinitions(columns).join('\n'))) throw new ClusterDdlError(`${name}: a column TTL in CREATE TABLE is not supported on a cluster (add it with ALTER TABLE … ADD COLUMN)`);
    const clauses = replicatedSettings(after.trim());
    const everywhere = !isSharded(name);
    const path = everywhere ? `'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'` : `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;
    const table = everywhere ? name : local(name);
    const create = `CREATE TABLE ${ifNot}${table} ${on} ${columns} ENGINE = Replicated${family[1]}MergeTree(${path}${args ? `, ${args}` : ''}) ${clauses}`.trim();
    if (everywhere) return [create];
    return [create, `CREATE TABLE ${ifNot}${name} ${on} AS ${local(name)} ENGINE = Distributed('${plan.cluster}', currentDatabase(), ${local(name)}, ${shardingKey(name, columns, clauses)})`];
  }

  // CREATE MATERIALIZED VIEW … TO target AS SELECT …
  if ((m = new RegExp(`^CREATE\\s+MATERIALIZED\\s+VIEW\\s+(IF\\s+NOT\\s+EXISTS\\s+)?(${NAME})\\s+TO\\s+(${NAME})\\s+AS\\s+([\\s\\S]+)$`, 'i').exec(s))) {
    const [, ifNot, name, target, select] = m as unknown as [string, string | undefined, string, string, string];
    return [`CREATE MATERIALIZED VIEW ${ifNot ? 'IF NOT EXISTS ' : ''}${name} ${on} TO ${isSharded(target) ? local(target) : target} AS ${localReads(select, plan)}`];
  }
  if (/^CREATE\s+MATERIALIZED\s+VIEW/i.test(s)) throw new ClusterDdlError('a materialised view needs TO <table> on a cluster (its inner table would not be sharded)');

  // CREATE [OR REPLACE] VIEW: the analyst views read the Distributed names; they exist on every node.
  if ((m = new RegExp(`^(CREATE\\s+(?:OR\\s+REPLACE\\s+)?VIEW\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)(${NAME})\\b`, 'i').exec(s))) {
    return [`${m[1]}${m[2]} ${on}${s.slice(m[0].length)}`];
  }

  // DROP VIEW / DROP TABLE
  if ((m = new RegExp(`^DROP\\s+(VIEW|TABLE)\\s+(IF\\s+EXISTS\\s+)?(${NAME})\\s*(SYNC)?$`, 'i').exec(s))) {
    const [, kind, ifExists, name] = m as unknown as [string, string, string | undefined, string];
    const drop = (t: string) => `DROP ${kind!.toUpperCase()} ${ifExists ? 'IF EXISTS ' : ''}${t} ${on} SYNC`;
    return isSharded(name) ? [drop(name), drop(local(name))] : [drop(name)];
  }

  // ALTER TABLE name <commands> [SETTINGS …]
  if ((m = new RegExp(`^ALTER\\s+TABLE\\s+(${NAME})\\s+([\\s\\S]+)$`, 'i').exec(s))) {
    const name = m[1]!;
    let body = m[2]!;
    let settings = '';
    const at = lastTopLevel(body, /\bSETTINGS\b/gi);
    if (at >= 0) {
      settings = body.slice(at + 'SETTINGS'.length).trim();
      body = body.slice(0, at).trim();
    }
    const commands = splitTopLevel(body).map((c) => replicatedSettings(c.trim()));
    if (commands.some((c) => /^(DELETE|UPDATE)\b/i.test(c) && /\bSELECT\b/i.test(c))) {
      // Each replica evaluates the subquery itself; ClickHouse refuses that on replicated tables unless allowed.
      settings = settings ? `${settings}, allow_nondeterministic_mutations = 1` : 'allow_nondeterministic_mutations = 1';
    }
    const alter = (table: string, cmds: string[], cluster: boolean) =>
      `ALTER TABLE ${table}${cluster ? ` ${on}` : ''} ${cmds.join(', ')}${settings ? ` SETTINGS ${settings}` : ''}`;
    // Replicated everywhere: one replica's ALTER reaches every replica through Keeper.
    if (!isSharded(name)) return [alter(name, commands, false)];
    const out = [alter(local(name), commands, true)];
    const structural = commands.filter(changesColumns).map(forDistributed);
    if (structural.length) out.push(`ALTER TABLE ${name} ${on} ${structural.join(', ')}`);
    return out;
  }

  // INSERT INTO name … : through the Distributed table, waiting for the shards.
  if ((m = new RegExp(`^INSERT\\s+INTO\\s+(${NAME})\\b`, 'i').exec(s))) {
    const name = m[1]!;
    if (!isSharded(name)) return [s];
    let rest = s.slice(m[0].length);
    let head = '';
    const cols = /^\s*\(/.exec(rest);
    if (cols) {
      const end = matchingParen(rest, rest.indexOf('('));
      head = ` ${rest.slice(rest.indexOf('('), end + 1)}`;
      rest = rest.slice(end + 1);
    }
    const given = /^\s*SETTINGS\s+([\s\S]*?)\s+(?=SELECT\b|WITH\b|VALUES\b|FORMAT\b)/i.exec(rest);
    const settings = given ? `${given[1]}, distributed_foreground_insert = 1` : 'distributed_foreground_insert = 1';
    if (given) rest = rest.slice(given[0].length);
    return [`INSERT INTO ${name}${head} SETTINGS ${settings} ${rest.trim()}`];
  }

  // TRUNCATE / OPTIMIZE work on the stored parts.
  if ((m = new RegExp(`^(TRUNCATE\\s+TABLE|OPTIMIZE\\s+TABLE)\\s+(?:IF\\s+EXISTS\\s+)?(${NAME})\\b([\\s\\S]*)$`, 'i').exec(s))) {
    const name = m[2]!;
    return isSharded(name) ? [`${m[1]} ${local(name)} ${on}${m[3]}`] : [s];
  }

  throw new ClusterDdlError(`statement not supported on a cluster (teach src/store/cluster-ddl.ts): ${s.slice(0, 120)}`);
}

/** Runs a migration statement: as it is on one node, rewritten for the cluster when there is a plan. */
export async function runDdl(client: Pick<ClickHouseClient, 'command'>, statement: string, plan: ClusterPlan | undefined): Promise<void> {
  for (const query of plan ? clusterStatements(statement, plan) : [statement]) await client.command({ query });
}

/** Which table a statement's stored data is in, on a cluster: the local part of a sharded table. */
export function storageTable(name: string, plan: ClusterPlan | undefined): string {
  return plan?.sharded.has(name) ? `${name}${LOCAL_SUFFIX}` : name;
}

/** `FROM x` / `JOIN x` of sharded tables become their local parts (a materialised view sees its own shard's rows). */
function localReads(select: string, plan: ClusterPlan): string {
  return select.replace(new RegExp(`\\b(FROM|JOIN)(\\s+)(${NAME})\\b`, 'gi'), (all, kw: string, sp: string, t: string) =>
    plan.sharded.has(t) ? `${kw}${sp}${t}${LOCAL_SUFFIX}` : all,
  );
}

function replicatedSettings(sql: string): string {
  return sql.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');
}

/** ALTER commands that change the columns a Distributed table must mirror. */
function changesColumns(cmd: string): boolean {
  if (/^(ADD|DROP|RENAME)\s+COLUMN\b/i.test(cmd)) return true;
  // MODIFY COLUMN with a type; not one that only sets a TTL, codec, comment or removes something.
  const m = new RegExp(`^MODIFY\\s+COLUMN\\s+(?:IF\\s+EXISTS\\s+)?${NAME}\\s+(\\S+)`, 'i').exec(cmd);
  return !!m && !/^(TTL|CODEC|COMMENT|REMOVE|DEFAULT|MATERIALIZED|ALIAS|SETTINGS?)\b/i.test(m[1]!);
}

/** A column change as a Distributed table takes it: no TTL or codec (those belong to the stored parts). */
function forDistributed(cmd: string): string {
  let out = cmd;
  const ttl = lastTopLevel(out, /\bTTL\b/gi);
  if (ttl >= 0) {
    // The TTL expression runs to the end of the command, unless a COMMENT follows it.
    const tail = out.slice(ttl);
    const comment = /\sCOMMENT\s+'(?:[^'\\]|\\.|'')*'\s*$/i.exec(tail);
    out = `${out.slice(0, ttl).trimEnd()}${comment ? comment[0] : ''}`;
  }
  for (let m = /\s+CODEC\s*\(/i.exec(out); m; m = /\s+CODEC\s*\(/i.exec(out)) {
    const open = m.index + m[0].length - 1;
    out = out.slice(0, m.index) + out.slice(matchingParen(out, open) + 1);
  }
  return out;
}

/** The sharding key of a sharded table: a hash of the visitor id when it has one, else of its sorting key. */
function shardingKey(name: string, columns: string, clauses: string): string {
  if (columnDefinitions(columns).some((c) => /^visitor_id\s/.test(c))) return 'cityHash64(visitor_id)';
  const order = /\bORDER\s+BY\s+/i.exec(clauses);
  if (!order) throw new ClusterDdlError(`${name}: no ORDER BY to shard by`);
  const from = order.index + order[0].length;
  let key: string;
  if (clauses[from] === '(') key = clauses.slice(from + 1, matchingParen(clauses, from));
  else key = /^\S+/.exec(clauses.slice(from))![0];
  if (!key.trim() || /^tuple\(\)$/i.test(key.trim())) throw new ClusterDdlError(`${name}: an empty sorting key gives nothing to shard by`);
  return `cityHash64(${key.trim()})`;
}

/** Column definitions of a `( … )` column block (indexes, projections and constraints left out). */
function columnDefinitions(block: string): string[] {
  return splitTopLevel(block.slice(1, -1))
    .map((c) => c.trim())
    .filter((c) => c && !/^(INDEX|PROJECTION|CONSTRAINT)\s/i.test(c));
}

/** Index of the `)` that closes the `(` at `open`, skipping quoted text. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'" || ch === '`' || ch === '"') {
      i = endOfQuote(s, i);
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  throw new ClusterDdlError(`unbalanced parentheses in: ${s.slice(0, 120)}`);
}

function endOfQuote(s: string, at: number): number {
  const q = s[at]!;
  for (let i = at + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === q) {
      if (s[i + 1] === q) i++;
      else return i;
    }
  }
  throw new ClusterDdlError(`unterminated quote in: ${s.slice(0, 120)}`);
}

/** Splits at commas outside parentheses, brackets and quotes. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'" || ch === '`' || ch === '"') i = endOfQuote(s, i);
    else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** Index of the last match of `re` outside parentheses and quotes, or -1. */
function lastTopLevel(s: string, re: RegExp): number {
  const inside = new Uint8Array(s.length);
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'" || ch === '`' || ch === '"') {
      const end = endOfQuote(s, i);
      inside.fill(1, i, end + 1);
      i = end;
      continue;
    }
    if (ch === '(') depth++;
    if (depth > 0) inside[i] = 1;
    if (ch === ')') depth--;
  }
  let last = -1;
  for (const m of s.matchAll(re)) if (!inside[m.index!]) last = m.index!;
  return last;
}
