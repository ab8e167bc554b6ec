/**
 * ClickHouse's own parser, and nothing else, for the query guard
 * (src/query/guard.ts): the statements here parse, format or list names;
 * none of them executes, analyses or plans the text they are given.
 *
 * Measured here, and the reason this module exists: `EXPLAIN QUERY TREE`
 * (the analyser) executes scalar subqueries while it resolves names, so a
 * guard built on it runs an attacker's `(SELECT throwIf(…) FROM …)` before it
 * has decided anything. `EXPLAIN AST` and `formatQuerySingleLine` only parse.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface SqlParser {
  /**
   * The query as the engine reads it, on one line, comments gone: one
   * statement only (a second one makes the text fail to parse). Throws the
   * engine's error for text that does not parse.
   */
  normalise(sql: string): Promise<string>;
  /** The engine's parse tree of `sql`, one node a line, indented by depth. */
  explainAst(sql: string): Promise<string[]>;
  /** Names of the current database's tables and views (metadata only). */
  catalogue(): Promise<{ database: string; tables: string[] }>;
}

/**
 * `text` as a ClickHouse string literal: every backslash and quote escaped,
 * so the literal's value is exactly `text` (src/store/parser.integration.test.ts
 * round-trips arbitrary text through it). For the embedded engine only, where
 * a bound parameter would queue behind every other parameterised statement of
 * the process (chDB serialises them all, the writer's included).
 */
export function stringLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('the text contains a NUL byte');
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The parser on an embedded session of its own (src/store/reader.ts), so a
 * query is checked without waiting for the writer's inserts. `run` returns
 * one string per row of a one-column result.
 */
export function sessionParser(run: (sql: string) => Promise<string[]>): SqlParser {
  return {
    async normalise(sql) {
      const [formatted] = await run(`SELECT formatQuerySingleLine(${stringLiteral(sql)})`);
      if (!formatted) throw new Error('empty query');
      return formatted;
    },
    explainAst: (sql) => run(`EXPLAIN AST ${sql}`),
    async catalogue() {
      const [database] = await run('SELECT currentDatabase()');
      const tables = await run('SELECT name FROM system.tables WHERE database = currentDatabase()');
      return { database: database ?? 'default', tables };
    },
  };
}

async function column(client: ClickHouseClient, query: string, params?: Record<string, unknown>): Promise<string[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params });
  // One column per row; depending on the connection a row arrives as an object or as the bare value.
  return (await rs.json<Record<string, unknown> | string>()).map((r) => (typeof r === 'object' && r !== null ? String(Object.values(r)[0]) : String(r)));
}

export function clickHouseParser(client: ClickHouseClient): SqlParser {
  return {
    async normalise(sql) {
      // A bound parameter: the text is a value here, never spliced into SQL.
      const [formatted] = await column(client, 'SELECT formatQuerySingleLine({sql:String})', { sql });
      if (!formatted) throw new Error('empty query');
      return formatted;
    },
    explainAst: (sql) => column(client, `EXPLAIN AST ${sql}`),
    async catalogue() {
      const [database] = await column(client, 'SELECT currentDatabase()');
      const tables = await column(client, 'SELECT name FROM system.tables WHERE database = currentDatabase()');
      return { database: database ?? 'default', tables };
    },
  };
}
