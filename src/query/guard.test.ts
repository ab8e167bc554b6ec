import { describe, expect, it } from 'vitest';
import { cteNames, parseAst, quotedNames, tokens } from './guard.js';
import { analystMayCall } from './functions.js';

describe('the guard on the parser output', () => {
  it('reads WITH names from the tokens, never from text inside a literal or a quoted name', () => {
    expect(cteNames("WITH d AS (SELECT 1), 5 AS k SELECT * FROM d WHERE 'events AS (' != ''").names).toEqual(new Set(['d']));
    expect(cteNames("SELECT 'WITH events AS (SELECT 1)' AS x").names).toEqual(new Set());
    expect(cteNames('SELECT `WITH events AS (` FROM v').names).toEqual(new Set());
    expect(cteNames('WITH a AS (SELECT 1) SELECT * FROM (WITH b AS (SELECT 2) SELECT * FROM b), a').names).toEqual(new Set(['a', 'b']));
    expect(cteNames('WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r').recursive).toBe(true);
    expect(tokens("SELECT 'it\\'s', `a\\`b` , 1.5e3")).toEqual(['SELECT', "'", ',', 'a`b', ',', '0']);
  });

  it('finds every quoted name, raw, and no string literal', () => {
    expect(quotedNames("SELECT `a\\nb`, \"c\", 'not `a name`' FROM `t`")).toEqual(['a\\nb', 'c', 't']);
  });

  it('builds the tree from the dump, names without their alias and children suffixes', () => {
    const t = parseAst([
      'SelectWithUnionQuery (children 1)',
      ' ExpressionList (children 1)',
      '  SelectQuery (children 2)',
      '   ExpressionList (children 1)',
      "    Literal 'a (alias x) (children 3)' (alias y)",
      '   TablesInSelectQuery (children 1)',
      '    TablesInSelectQueryElement (children 1)',
      '     TableExpression (children 1)',
      '      Function v_daily (alias d) (children 1)',
      '       ExpressionList',
    ]);
    const select = t.children[0]!.children[0]!;
    expect(select.children.map((c) => c.type)).toEqual(['ExpressionList', 'TablesInSelectQuery']);
    expect(select.children[1]!.children[0]!.children[0]!.children[0]).toMatchObject({ type: 'Function', name: 'v_daily' });
  });

  it('allows listed functions and aggregate combinators, in any case, and nothing else', () => {
    for (const f of ['count', 'COUNT', 'sumIf', 'countIf', 'uniqExactIf', 'avgOrNull', 'quantiles', 'toStartOfWeek', 'arrayMap', 'lambda', 'multiIf']) expect(analystMayCall(f), f).toBe(true);
    for (const f of ['throwIf', 'sleep', 'sleepEachRow', 'hasColumnInTable', 'getSetting', 'version', 'uptime', 'demangle', 'addressToSymbol', 'file', 'dictGet', 'joinGet', 'currentUser', 'reinterpretAsUInt8', 'range', 'sumState', 'anyHeavy', 'count x', 'sum(1)'])
      expect(analystMayCall(f), f).toBe(false);
  });
});
