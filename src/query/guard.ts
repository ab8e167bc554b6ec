/**
 * Which queries may run. Decided on syntax alone: the engine's parser reads
 * the text, this module walks the parse tree, and nothing of the query is
 * executed, analysed or planned until it has been accepted.
 *
 *   1. normalise (SqlParser.normalise = formatQuerySingleLine on a bound
 *      parameter): one statement, comments gone. Every later step, and the
 *      query that finally runs, use this text.
 *   2. parse (EXPLAIN AST, which only parses; never EXPLAIN QUERY TREE, which
 *      executes scalar subqueries while it resolves names) into a tree.
 *   3. shape: one SELECT (WITH, UNION, INTERSECT, EXCEPT, subqueries), no
 *      FORMAT, INTO OUTFILE or SETTINGS at any depth, no WITH RECURSIVE.
 *   4. every role: no function that reaches outside the database (files,
 *      URLs, other servers, processes), readonly or not.
 *   5. analysts only, on the tree:
 *      - node types: an allowlist (selects, expressions, joins, subqueries,
 *        CTEs, window definitions); anything else (ARRAY JOIN, SAMPLE, query
 *        parameters, APPLY transformers, …) is refused;
 *      - functions: the allowlist of src/query/functions.ts;
 *      - table sources: the analyst views (`v_*`, called with their
 *        parameters, whose values may use allowed functions and literals
 *        only) and names the query defines in a WITH clause. No table
 *        functions. A name in FROM that is not an analyst view must be one of
 *        the query's CTE names (read from its WITH elements) and must not be
 *        the name of any table of the database, so a CTE name can never
 *        resolve to a real table, whatever scope it is used in;
 *      - `IN name` (a table on the right of IN) is refused.
 *
 * What the accepted query may read is then k-filtered rows only; the query
 * runs with the settings of src/query/settings.ts, which keep its outer
 * expressions above the views' k-filters.
 */
import { analystMayCall, outsideFunction } from './functions.js';
import type { SqlParser } from '../store/parser.js';

export type Role = 'analyst' | 'admin';

/** The query is not one this endpoint runs. `reason` is for the server log and the audit table (and admins). */
export class QueryRefused extends Error {
  override readonly name = 'QueryRefused';
}

/** One node of EXPLAIN AST's dump: `Type [name] [(alias a)] [(children n)]`. */
export interface AstNode {
  type: string;
  /** The rest of the line after the type, without the `(alias …)` and `(children …)` suffixes. */
  name: string;
  children: AstNode[];
}

/** Builds the tree from EXPLAIN AST lines (one space of indentation per level). */
export function parseAst(lines: readonly string[]): AstNode {
  const root: AstNode = { type: '(root)', name: '', children: [] };
  const stack: { depth: number; node: AstNode }[] = [{ depth: -1, node: root }];
  for (const line of lines) {
    if (!line.trim()) continue;
    const depth = line.length - line.trimStart().length;
    const body = line.trim();
    const sp = body.indexOf(' ');
    const type = sp < 0 ? body : body.slice(0, sp);
    let rest = sp < 0 ? '' : body.slice(sp + 1);
    // The suffixes the dump appends; a literal's own text is never cut (literals are checked by type, not name).
    if (type !== 'Literal') rest = rest.replace(/ ?\(children \d+\)$/, '').replace(/ ?\(alias [^()]*\)$/, '');
    const node: AstNode = { type, name: rest, children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    stack[stack.length - 1]!.node.children.push(node);
    stack.push({ depth, node });
  }
  if (root.children.length !== 1) throw new QueryRefused('the parse tree has no single root');
  return root.children[0]!;
}

/** Node types an analyst query may contain. */
const ANALYST_NODES = new Set([
  'SelectWithUnionQuery', 'SelectIntersectExceptQuery', 'SelectQuery', 'ExpressionList', 'Function', 'Identifier', 'Literal',
  'TablesInSelectQuery', 'TablesInSelectQueryElement', 'TableExpression', 'TableIdentifier', 'TableJoin', 'Subquery', 'WithElement',
  'OrderByElement', 'Asterisk', 'QualifiedAsterisk', 'ColumnsTransformerList', 'ColumnsExceptTransformer', 'WindowDefinition', 'WindowListElement',
]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IN_FUNCTIONS = new Set(['in', 'notin', 'globalin', 'globalnotin', 'nullin', 'notnullin', 'globalnullin', 'globalnotnullin']);

/**
 * A tokenizer for the engine's own single-line print of a query: string
 * literals, quoted identifiers and numbers are skipped as whole tokens, so
 * text inside a literal is never read as SQL. It serves two things only:
 * the names of WITH elements (the dump does not print them) and the
 * RECURSIVE keyword; safety does not depend on it (see cteNames).
 */
export function tokens(sql: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '`' || c === '"') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      const raw = sql.slice(i, j + 1);
      out.push(c === "'" ? "'" : raw.slice(1, -1).replace(/\\(.)/g, '$1'));
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      out.push(sql.slice(i, j));
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      out.push('0');
      i = j;
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}

/** The raw text (escapes not undone) of every quoted name (`…` or "…") of the engine's print of a query. */
export function quotedNames(sql: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '`' || c === '"') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      if (c !== "'") out.push(sql.slice(i + 1, j));
      i = j + 1;
    } else i++;
  }
  return out;
}

/** The names defined by `WITH name AS (…)` elements, and whether any WITH is RECURSIVE. */
export function cteNames(sql: string): { names: Set<string>; recursive: boolean } {
  const t = tokens(sql);
  const names = new Set<string>();
  let recursive = false;
  for (let i = 0; i < t.length; i++) {
    if (t[i]!.toUpperCase() !== 'WITH') continue;
    if (t[i + 1]?.toUpperCase() === 'RECURSIVE') recursive = true;
    // The element list of this WITH: `name AS (` at depth 0 of the list, up to its SELECT.
    let depth = 0;
    let start = true;
    for (let j = i + 1; j < t.length; j++) {
      const w = t[j]!;
      if (w === '(') depth++;
      else if (w === ')') {
        if (--depth < 0) break;
      } else if (depth === 0 && w.toUpperCase() === 'SELECT') break;
      else if (depth === 0 && w === ',') {
        start = true;
        continue;
      }
      if (start && depth === 0 && w.toUpperCase() !== 'RECURSIVE') {
        if (t[j + 1]?.toUpperCase() === 'AS' && t[j + 2] === '(') names.add(w);
        start = false;
      }
    }
  }
  return { names, recursive };
}

export interface GuardContext {
  parser: SqlParser;
}

function walk(node: AstNode, visit: (n: AstNode, parent: AstNode | undefined) => void, parent?: AstNode): void {
  visit(node, parent);
  for (const c of node.children) walk(c, visit, node);
}

/**
 * Checks `sql` for `role` and returns the normalised text to run. Throws
 * QueryRefused (reason for the log) for anything that may not run.
 */
export async function checkQuery(parser: SqlParser, sql: string, role: Role): Promise<string> {
  let normalised: string;
  try {
    normalised = await parser.normalise(sql);
  } catch (err) {
    const msg = (err as Error).message;
    if (/Multi-statements are not allowed/i.test(msg)) throw new QueryRefused('one statement only: a query may not contain ";" followed by another statement');
    throw new QueryRefused(`query does not parse: ${msg.replace(/ In scope SELECT formatQuerySingleLine[\s\S]*$/, '').slice(0, 300)}`);
  }
  if (!/^\(*\s*(SELECT|WITH)\b/i.test(normalised)) throw new QueryRefused(`only SELECT queries run here (got ${normalised.split(' ')[0]})`);
  // EXPLAIN AST prints a name as it is, so a quoted name with a line break (`a\nb`, escaped in the text) would
  // print as two lines of the dump, and the tree is read line by line: no name may hold an escape or a control
  // character.
  if (/[\u0000-\u001f\u007f]/.test(normalised) || quotedNames(normalised).some((n) => /[\\\u0000-\u001f\u007f]/.test(n))) {
    throw new QueryRefused('names may not contain escapes or control characters (line breaks, tabs, …)');
  }
  let lines: string[];
  try {
    lines = await parser.explainAst(normalised);
  } catch (err) {
    throw new QueryRefused(`query does not parse: ${(err as Error).message.slice(0, 300)}`);
  }
  const root = parseAst(lines);
  if (root.type !== 'SelectWithUnionQuery') throw new QueryRefused(`only SELECT queries run here (got ${root.type})`);
  // The root's own children: the select list, then INTO OUTFILE as a Literal, or the output format as an
  // Identifier (the one the client appends to EXPLAIN, and a FORMAT clause of the query's own, caught on its tokens).
  const words = tokens(normalised);
  const ownFormat = words.length > 2 && words[words.length - 2]!.toUpperCase() === 'FORMAT' && NAME.test(words[words.length - 1]!);
  if (ownFormat || root.children[0]?.type !== 'ExpressionList' || root.children.slice(1).some((c) => c.type !== 'Identifier')) {
    throw new QueryRefused('INTO OUTFILE, FORMAT and SETTINGS clauses are not allowed here: pass the format as ?format= (or --format)');
  }
  const ctes = cteNames(normalised);
  if (ctes.recursive) throw new QueryRefused('WITH RECURSIVE is not allowed');
  const problems: string[] = [];
  walk(root, (n) => {
    if (n.type === 'Set') problems.push('SETTINGS clauses are not allowed: the query runs with fixed limits and readonly = 1');
    if (n.type === 'Function' && outsideFunction(n.name)) problems.push(`functions that reach outside the database are not allowed (${n.name})`);
  });
  if (problems.length) throw new QueryRefused([...new Set(problems)].join('; '));
  if (role === 'admin') return normalised; // readonly = 1 and the limits are the admin's bounds
  await checkAnalystTree(parser, root, ctes.names);
  return normalised;
}

/** The analyst rules of step 5 on the parse tree. */
async function checkAnalystTree(parser: SqlParser, root: AstNode, cteNames: ReadonlySet<string>): Promise<void> {
  const { database, tables } = await parser.catalogue();
  const views = new Set(tables.filter((t) => t.startsWith('v_')));
  const realTables = new Set(tables.filter((t) => !views.has(t)).map((t) => t.toLowerCase()));
  let withElements = 0;
  const problems: string[] = [];
  const viewName = (qualified: string): string | undefined => {
    const parts = qualified.split('.');
    if (parts.length > 2 || !parts.every((p) => NAME.test(p))) return undefined;
    if (parts.length === 2 && parts[0] !== database) return undefined;
    const name = parts[parts.length - 1]!;
    return views.has(name) ? name : undefined;
  };
  const checkViewArgs = (call: AstNode) => {
    // v_x(name = value, …): each argument an equality of a parameter name and a value made of literals and allowed functions.
    const args = call.children[0]?.children ?? [];
    for (const a of args) {
      const [lhs, rhs] = a.children[0]?.children ?? [];
      if (a.type !== 'Function' || a.name !== 'equals' || lhs?.type !== 'Identifier' || !NAME.test(lhs.name) || !rhs) {
        problems.push(`view parameters are written name = value (in ${call.name})`);
        continue;
      }
      walk(rhs, (n) => {
        if (n.type !== 'Literal' && n.type !== 'Function' && n.type !== 'ExpressionList') problems.push(`a view parameter is a literal or a function of literals (in ${call.name})`);
        if (n.type === 'Function' && !analystMayCall(n.name)) problems.push(`analysts may not use the function ${n.name}`);
      });
    }
  };
  const visit = (n: AstNode, parent: AstNode | undefined): void => {
    if (!ANALYST_NODES.has(n.type)) {
      problems.push(`not allowed in an analyst query: ${n.type}`);
      return;
    }
    if (n.type === 'WithElement') withElements++;
    if (n.type === 'TableIdentifier') {
      if (viewName(n.name)) return;
      const bare = NAME.test(n.name) ? n.name : undefined;
      if (!bare || !cteNames.has(bare) || realTables.has(bare.toLowerCase())) problems.push(`analysts read only the analyst views (v_*) and the query's own WITH names; not ${n.name}`);
      return;
    }
    if (n.type === 'Function' && parent?.type === 'TableExpression') {
      if (!viewName(n.name)) problems.push(`table functions are not allowed (${n.name})`);
      else checkViewArgs(n);
      return;
    }
    if (n.type === 'Function') {
      if (!analystMayCall(n.name)) problems.push(`analysts may not use the function ${n.name}`);
      if (IN_FUNCTIONS.has(n.name.toLowerCase()) && n.children[0]?.children[1]?.type === 'Identifier') problems.push('IN a table is not allowed: use IN (SELECT … FROM v_…)');
    }
  };
  // The view calls' arguments are checked by checkViewArgs, not as ordinary expressions.
  const walkAnalyst = (n: AstNode, parent?: AstNode): void => {
    visit(n, parent);
    if (n.type === 'Function' && parent?.type === 'TableExpression') return;
    for (const c of n.children) walkAnalyst(c, n);
  };
  walkAnalyst(root);
  // Every name read as a WITH name must come from a WITH element the parser saw.
  if (cteNames.size > 0 && withElements === 0) problems.push('WITH names without WITH elements');
  if (problems.length) throw new QueryRefused([...new Set(problems)].join('; '));
}
