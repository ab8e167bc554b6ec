/**
 * Which tables a query may read. ClickHouse's `readonly=1` already refuses
 * writes, DDL, setting changes and file/url/executable table functions; on
 * top of that an analyst may read only the analyst views. The check walks
 * ClickHouse's own parse of the query (EXPLAIN AST), so aliases, subqueries,
 * joins and CTEs are seen the way the engine sees them.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export type Role = 'analyst' | 'admin';

export class QueryDenied extends Error {
  override readonly name = 'QueryDenied';
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

export async function checkQuery(client: ClickHouseClient, sql: string, role: Role, analystTables: ReadonlySet<string>): Promise<void> {
  if (role === 'admin') return; // readonly=1 is the admin's limit
  let ast: string;
  try {
    const rs = await client.query({ query: `EXPLAIN AST ${sql}`, format: 'JSONEachRow', clickhouse_settings: { readonly: '1' } });
    // One column per row; depending on the connection a row arrives as an object or as the bare string.
    ast = (await rs.json<{ explain: string } | string>()).map((r) => (typeof r === 'string' ? r : r.explain)).join('\n');
  } catch (err) {
    throw new QueryDenied(`query does not parse: ${(err as Error).message.slice(0, 300)}`);
  }
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

/** The analyst views present in the store: every view whose name starts with `v_`. */
export async function analystViews(client: ClickHouseClient): Promise<Set<string>> {
  const rs = await client.query({
    query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'View' AND startsWith(name, 'v_')",
    format: 'JSONEachRow',
  });
  return new Set((await rs.json<{ name: string }>()).map((r) => r.name));
}
