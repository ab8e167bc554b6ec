/**
 * Which queries may run, and how they are made read-only. Every decision is
 * taken on ClickHouse's own parse of the query, never on its raw text:
 *
 *   1. normalise: `formatQuerySingleLine` (a bound parameter, so the text is
 *      never spliced into SQL) re-prints the query as the engine read it:
 *      one statement only (chdb would otherwise run `SELECT 1; DROP …` as two),
 *      comments gone. Every later step, and the query that finally runs, use
 *      this normalised text.
 *   2. shape (EXPLAIN AST, which only parses): one SELECT (WITH, UNION,
 *      INTERSECT allowed) and nothing else at its top: no INTO OUTFILE, no
 *      FORMAT (the format is a parameter), no SETTINGS at any depth (a
 *      SETTINGS clause in a subquery could lift readonly for it).
 *   3. functions, every role: none that reaches outside the database. The
 *      scalar `file()` reads any file the process may read (the environment
 *      with its secrets, the dev tokens, the sealing keys) even with
 *      readonly = 1, so readonly alone is not enough.
 *   4. analysts, tables: resolved by the engine's analyser (EXPLAIN QUERY
 *      TREE), which sees through CTEs, aliases, `IN table` and database
 *      prefixes; every table read must be an analyst view (`v_*`).
 *   5. run as `<normalised sql> SETTINGS readonly = 1`, which refuses writes,
 *      DDL and the file/url/executable table functions for this query only.
 *
 * Why not `clickhouse_settings: { readonly: 1 }`: the embedded connection
 * (chdb) turns per-call settings into `SET` statements on its one long-lived
 * session, so a single analyst query would leave the whole engine read-only
 * and every later insert of the worker would fail. A query-level SETTINGS
 * clause is scoped to that query in both modes.
 */
import type { ClickHouseClient } from '../store/client.js';

export type Role = 'analyst' | 'admin';

export class QueryDenied extends Error {
  override readonly name = 'QueryDenied';
}

/** The query is not one this endpoint runs (not a single SELECT, or it does not parse). */
export class QueryRefused extends Error {
  override readonly name = 'QueryRefused';
}

export interface AstRefs {
  tables: string[];
  tableFunctions: string[];
  functions: string[];
}

/** Extracts table identifiers, table functions and functions from `EXPLAIN AST` text. */
export function astRefs(ast: string): AstRefs {
  const lines = ast.split('\n');
  const out: AstRefs = { tables: [], tableFunctions: [], functions: [] };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const t = /^\s*TableIdentifier (\S+)/.exec(line);
    if (t) out.tables.push(t[1]!);
    const f = /^\s*Function (\S+)/.exec(line);
    if (f) {
      out.functions.push(f[1]!);
      if (i > 0 && /^\s*TableExpression\b/.test(lines[i - 1]!)) out.tableFunctions.push(f[1]!);
    }
  }
  return out;
}

/**
 * Functions that reach outside the database (files, network, other servers,
 * processes), for every role. Matched on the lower-cased name; a prefix covers
 * a family (`s3Cluster`, `fileCluster`, `dictGetString`, …).
 */
const OUTSIDE_PREFIXES = [
  'file', 's3', 'gcs', 'oss', 'cosn', 'hdfs', 'azureblob', 'remote', 'cluster', 'executable', 'mysql', 'postgresql',
  'mongodb', 'sqlite', 'odbc', 'jdbc', 'redis', 'iceberg', 'deltalake', 'hudi', 'hive', 'paimon', 'arrowflight', 'ytsaurus',
];
const OUTSIDE_EXACT = new Set(['url', 'urlcluster', 'input', 'loop', 'fuzzjson', 'fuzzquery', 'generaterandom']);
/** Functions that read tables, dictionaries, settings or the host by name, bypassing the table check (analysts). */
const ANALYST_DENIED_PREFIXES = ['dictget', 'dicthas', 'dictisin', 'joinget', 'getsetting', 'getserversetting', 'getmacro', 'filesystem', 'currentuser', 'currentroles', 'currentprofiles', 'hostname', 'fqdn', 'getclienthttpheader'];

export function outsideFunction(name: string): boolean {
  const n = name.toLowerCase();
  return OUTSIDE_EXACT.has(n) || OUTSIDE_PREFIXES.some((p) => n.startsWith(p));
}

function analystDeniedFunction(name: string): boolean {
  const n = name.toLowerCase();
  return ANALYST_DENIED_PREFIXES.some((p) => n.startsWith(p));
}

async function rows(client: ClickHouseClient, query: string, params?: Record<string, unknown>): Promise<string[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params });
  // One column per row; depending on the connection a row arrives as an object or as the bare string.
  return (await rs.json<Record<string, string> | string>()).map((r) => (typeof r === 'string' ? r : String(Object.values(r)[0])));
}

/** Step 1: the query as the engine reads it, one statement, no comments. */
export async function normaliseSql(client: ClickHouseClient, sql: string): Promise<string> {
  try {
    const [formatted] = await rows(client, 'SELECT formatQuerySingleLine({sql:String}) AS q', { sql });
    if (!formatted) throw new Error('empty query');
    return formatted;
  } catch (err) {
    const msg = (err as Error).message;
    if (/Multi-statements are not allowed/i.test(msg)) throw new QueryRefused('one statement only: a query may not contain ";" followed by another statement');
    throw new QueryRefused(`query does not parse: ${msg.replace(/ In scope SELECT formatQuerySingleLine[\s\S]*$/, '').slice(0, 300)}`);
  }
}

/** Parses `sql` with the engine's own parser (reads no data); the AST as text, one node a line. */
async function explainAst(client: ClickHouseClient, sql: string): Promise<string> {
  try {
    return (await rows(client, `EXPLAIN AST ${sql}`)).join('\n');
  } catch (err) {
    throw new QueryRefused(`query does not parse: ${(err as Error).message.slice(0, 300)}`);
  }
}

/**
 * The tables the analyser resolves the query to (`db.name`), and whether it
 * calls a table function. Its error text is not passed on: analysis may
 * evaluate constant subqueries, and a message could carry what they read.
 */
async function resolvedTables(client: ClickHouseClient, sql: string): Promise<{ tables: string[]; tableFunctions: number }> {
  let tree: string;
  try {
    tree = (await rows(client, `EXPLAIN QUERY TREE ${sql}`)).join('\n');
  } catch {
    throw new QueryRefused('the query could not be analysed (check table, view and column names)');
  }
  return {
    tables: [...tree.matchAll(/\bTABLE id: \d+,[^\n]*?\btable_name: ([^\s,]+)/g)].map((m) => m[1]!),
    tableFunctions: [...tree.matchAll(/\bTABLE_FUNCTION id: \d+/g)].length,
  };
}

/**
 * Checks `sql` for `role` and returns the normalised text to run (through
 * readOnlySql). Refuses what may not run at all, for any role, then what an
 * analyst may not read.
 */
export async function checkQuery(client: ClickHouseClient, sql: string, role: Role, analystTables: ReadonlySet<string>): Promise<string> {
  const normalised = await normaliseSql(client, sql);
  if (!/^\(*\s*(SELECT|WITH)\b/i.test(normalised)) throw new QueryRefused(`only SELECT queries run here (got ${normalised.split(' ')[0]})`);
  if (/\bFORMAT\s+[A-Za-z][A-Za-z0-9]*\s*$/i.test(normalised)) throw new QueryRefused('no FORMAT clause in the SQL: pass the format as ?format= (or --format)');
  const ast = await explainAst(client, normalised);
  const lines = ast.split('\n');
  const root = lines[0]!.trim();
  if (!/^SelectWithUnionQuery\b/.test(root)) throw new QueryRefused(`only SELECT queries run here (got ${root.split(' ')[0]})`);
  // The root's own children: the select list, then the output format the client appends. INTO OUTFILE shows
  // up here as a Literal, SETTINGS as a Set; anything but those two known children is refused.
  const top = lines.filter((l) => /^ \S/.test(l)).map((l) => l.trim());
  if (!/^ExpressionList \(children \d+\)$/.test(top[0] ?? '')) throw new QueryRefused('only SELECT queries run here');
  if (top.slice(1).some((c) => !/^Identifier [A-Za-z][A-Za-z0-9]*$/.test(c)) || /\bINTO\s+OUTFILE\b/i.test(normalised)) {
    throw new QueryRefused('INTO OUTFILE, FORMAT and SETTINGS clauses are not allowed here');
  }
  if (/^\s*Set\s*$/m.test(ast)) throw new QueryRefused('SETTINGS clauses are not allowed: the query runs with readonly = 1');
  const refs = astRefs(ast);
  const outside = [...new Set(refs.functions.filter(outsideFunction))];
  if (outside.length) throw new QueryDenied(`functions that reach outside the database are not allowed (${outside.join(', ')})`);
  if (role === 'admin') return normalised; // readonly=1 is the admin's limit
  const bad = [...new Set(refs.functions.filter(analystDeniedFunction))];
  if (bad.length) throw new QueryDenied(`analysts may not use ${bad.join(', ')}`);
  const allowed = `analysts may read only the analyst views (${[...analystTables].sort().join(', ') || 'none yet'})`;
  // A first, cheap pass on the parse: a name that is neither an analyst view nor defined in the query's WITH is
  // refused before the analyser (which may evaluate subqueries) ever sees it.
  const ctes = new Set([...normalised.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*) AS \(/g)].map((m) => m[1]!.toLowerCase()));
  for (const t of refs.tables) {
    const name = t.replace(/`/g, '').replace(/^[^.]+\./, '');
    if (!analystTables.has(name) && (!ctes.has(name.toLowerCase()) || t.includes('.'))) throw new QueryDenied(`${allowed}; not ${t.replace(/`/g, '')}`);
  }
  // The authoritative pass: what the analyser resolved every name to.
  const [currentDb] = await rows(client, 'SELECT currentDatabase()');
  const resolved = await resolvedTables(client, normalised);
  if (resolved.tableFunctions) throw new QueryDenied(`${allowed}; table functions are not allowed`);
  for (const t of resolved.tables) {
    if (t === 'system.one') continue; // a SELECT without FROM
    const dot = t.indexOf('.');
    const db = t.slice(0, dot);
    const name = t.slice(dot + 1);
    if (db !== currentDb || !analystTables.has(name)) throw new QueryDenied(`${allowed}; not ${t}`);
  }
  return normalised;
}

/**
 * The checked (normalised) query made read-only for itself alone. The newline
 * keeps the clause on a line of its own.
 */
export function readOnlySql(sql: string): string {
  return `${sql}\nSETTINGS readonly = 1`;
}

/** The analyst views present in the store: every view whose name starts with `v_`. */
export async function analystViews(client: ClickHouseClient): Promise<Set<string>> {
  const rs = await client.query({
    query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'View' AND startsWith(name, 'v_')",
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ name: string }>()).map((r) => r.name));
}
