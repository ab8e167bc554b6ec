/**
 * Which queries may run, and how they are made read-only. The check walks
 * ClickHouse's own parse of the query (EXPLAIN AST), so aliases, subqueries,
 * joins and CTEs are seen the way the engine sees them.
 *
 * Every role: one SELECT (WITH, UNION, INTERSECT allowed), no SETTINGS clause
 * of its own, no FORMAT clause (the format is a parameter). It then runs as
 * `<sql> SETTINGS readonly = 1`, which refuses writes, DDL and the
 * file/url/executable table functions for this query only.
 *
 * Why not `clickhouse_settings: { readonly: 1 }`: the embedded connection
 * (chdb) turns per-call settings into `SET` statements on its one long-lived
 * session, so a single analyst query would leave the whole engine read-only
 * and every later insert of the worker would fail. A query-level SETTINGS
 * clause is scoped to that query in both modes. A SETTINGS clause inside the
 * user's SQL could re-enable writes for a subquery, so it is refused.
 *
 * Analysts may on top of that read only the analyst views.
 */
import type { ClickHouseClient } from '@clickhouse/client';

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

/** Extracts table identifiers and table functions from `EXPLAIN AST` text. */
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

/** Functions that read tables or dictionaries by name, bypassing the table check. */
const TABLE_READING_FUNCTIONS = /^(dictget|dicthas|joinget|getsetting|currentuser|hostname|getmacro|filesystem)/i;

/** Parses `sql` with the engine's own parser; the AST as text, one node a line. */
async function explainAst(client: ClickHouseClient, sql: string): Promise<string> {
  try {
    // EXPLAIN AST only parses; it reads no data, so it needs no readonly guard.
    const rs = await client.query({ query: `EXPLAIN AST ${sql}`, format: 'JSONEachRow' });
    // One column per row; depending on the connection a row arrives as an object or as the bare string.
    return (await rs.json<{ explain: string } | string>()).map((r) => (typeof r === 'string' ? r : r.explain)).join('\n');
  } catch (err) {
    throw new QueryRefused(`query does not parse: ${(err as Error).message.slice(0, 300)}`);
  }
}

/** Refuses what may not run at all (for any role), then what an analyst may not read. */
export async function checkQuery(client: ClickHouseClient, sql: string, role: Role, analystTables: ReadonlySet<string>): Promise<void> {
  if (/\bFORMAT\s+[A-Za-z][A-Za-z0-9]*\s*$/i.test(sql)) throw new QueryRefused('no FORMAT clause in the SQL: pass the format as ?format= (or --format)');
  const ast = await explainAst(client, sql);
  const root = ast.split('\n', 1)[0]!.trim();
  if (!/^SelectWithUnionQuery\b/.test(root)) throw new QueryRefused(`only SELECT queries run here (got ${root.split(' ')[0]})`);
  if (/^\s*Set\s*$/m.test(ast)) throw new QueryRefused('SETTINGS clauses are not allowed: the query runs with readonly = 1');
  if (role === 'admin') return; // readonly=1 is the admin's limit
  const refs = astRefs(ast);
  // A parameterised analyst view is called like a table function: v_pages(site='shop', ...).
  const tableFunctions = refs.tableFunctions.filter((f) => !analystTables.has(f));
  if (tableFunctions.length) throw new QueryDenied(`analysts may not use table functions (${tableFunctions.join(', ')})`);
  const bad = refs.functions.filter((f) => TABLE_READING_FUNCTIONS.test(f));
  if (bad.length) throw new QueryDenied(`analysts may not use ${bad.join(', ')}`);
  // CTE names appear as table identifiers too; they are defined inside the query and read only allowed tables.
  const ctes = new Set([...sql.matchAll(/\b([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(/gi)].map((m) => m[1]!.toLowerCase()));
  for (const t of refs.tables) {
    const name = t.replace(/^default\./, '').replace(/`/g, '');
    if (!analystTables.has(name) && !ctes.has(name.toLowerCase())) {
      throw new QueryDenied(`analysts may read only the analyst views (${[...analystTables].sort().join(', ') || 'none yet'}); not ${name}`);
    }
  }
}

/**
 * The checked query made read-only for itself alone. The newline keeps a
 * trailing `-- comment` in the user's SQL from swallowing the clause.
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
