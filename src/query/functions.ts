/**
 * The functions an analyst query may call: an explicit allowlist, everything
 * else refused (docs/analysts.md lists them for analysts).
 *
 * Why an allowlist and not a denylist: ClickHouse has about 1,800 functions
 * and adds more every release. Many reach past the views without naming a
 * table (`hasColumnInTable`, `getSetting`, `getMergeTreeSetting`, `dictGet`,
 * `joinGet`), describe the server (`version`, `uptime`, `hostName`), look into
 * the process (`addressToSymbol`, `demangle`, `filesystem*`), or turn a
 * condition into an observable difference (`throwIf` into an error, `sleep`
 * into a delay). A denylist misses the next one; an allowlist fails closed.
 *
 * What is on it, and why an analyst needs it:
 *   - aggregates, with the -If / -Distinct / -OrNull / -OrDefault combinators:
 *     sums, counts, averages, quantiles of the view rows;
 *   - window functions: running totals, ranks, day-over-day change;
 *   - arithmetic, comparison, logic, conditionals, NULL handling;
 *   - dates: bucketing days into weeks and months, date arithmetic, formatting;
 *   - strings: formatting labels and matching paths (`like`, `startsWith`,
 *     `match`: re2, linear time), never parsing one value as another type
 *     other than through the explicit `to*` conversions below;
 *   - type conversion and rounding;
 *   - array basics: the views return quantiles as arrays and `groupArray`
 *     builds one; indexing, length, membership, sorting, slicing, lambdas over
 *     them (`arrayMap`, `arrayFilter`, …). No generators (`range`,
 *     `arrayWithConstant`, `replicate`, `repeat`): rows come from views only.
 *
 * Names are matched case-insensitively (ClickHouse accepts `COUNT` for
 * `count`); src/query/guard.integration.test.ts checks against the engine's
 * own list that no other function hides behind a case variant of a name here.
 */

/** Aggregate functions (the bases; combinators are added by AGGREGATE_COMBINATORS). */
const AGGREGATES = [
  'count', 'sum', 'avg', 'min', 'max', 'any', 'anyLast', 'argMin', 'argMax',
  'uniq', 'uniqExact', 'uniqCombined',
  'median', 'quantile', 'quantiles', 'quantileExact', 'quantilesExact', 'quantileTDigest', 'quantilesTDigest',
  'stddevPop', 'stddevSamp', 'varPop', 'varSamp', 'corr', 'covarPop', 'covarSamp',
  'groupArray', 'groupUniqArray', 'topK', 'sumWithOverflow',
] as const;

/** Combinators an aggregate may carry, in any order, at most twice (sumIf, countDistinctIf, avgOrNullIf …). */
const AGGREGATE_COMBINATORS = /^(If|Distinct|OrNull|OrDefault){0,2}$/;

const FUNCTIONS = [
  // window functions
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lagInFrame', 'leadInFrame', 'first_value', 'last_value', 'nth_value',
  // arithmetic
  'plus', 'minus', 'multiply', 'divide', 'intDiv', 'intDivOrZero', 'modulo', 'moduloOrZero', 'negate', 'abs', 'least', 'greatest',
  'sqrt', 'exp', 'log', 'ln', 'log2', 'log10', 'pow', 'power', 'sign',
  // rounding
  'round', 'roundBankers', 'floor', 'ceil', 'ceiling', 'trunc', 'truncate',
  // comparison, logic, membership
  'equals', 'notEquals', 'less', 'greater', 'lessOrEquals', 'greaterOrEquals', 'and', 'or', 'not', 'xor', 'in', 'notIn',
  // conditionals and NULL handling
  'if', 'multiIf', 'caseWithExpression', 'isNull', 'isNotNull', 'coalesce', 'ifNull', 'nullIf', 'assumeNotNull', 'isFinite', 'ifNotFinite', 'isNaN',
  // dates and times
  'today', 'yesterday', 'now', 'toDate', 'toDateTime', 'toDate32', 'toStartOfDay', 'toStartOfHour', 'toStartOfWeek', 'toMonday', 'toStartOfMonth',
  'toStartOfQuarter', 'toStartOfYear', 'toStartOfInterval', 'dateTrunc', 'toYear', 'toQuarter', 'toMonth', 'toWeek', 'toISOWeek', 'toISOYear',
  'toDayOfYear', 'toDayOfMonth', 'toDayOfWeek', 'toHour', 'toYYYYMM', 'toYYYYMMDD', 'dateDiff', 'date_diff', 'addDays', 'addWeeks', 'addMonths',
  'addYears', 'subtractDays', 'subtractWeeks', 'subtractMonths', 'subtractYears', 'toIntervalDay', 'toIntervalWeek', 'toIntervalMonth',
  'toIntervalQuarter', 'toIntervalYear', 'toIntervalHour', 'toIntervalMinute', 'toIntervalSecond', 'formatDateTime', 'toUnixTimestamp',
  // strings: formatting and matching
  'concat', 'concatWithSeparator', 'format', 'lower', 'upper', 'length', 'lengthUTF8', 'empty', 'notEmpty', 'substring', 'substr', 'left', 'right',
  'trimBoth', 'trimLeft', 'trimRight', 'trim', 'leftPad', 'rightPad', 'replaceAll', 'replaceOne', 'replace', 'startsWith', 'endsWith', 'position',
  'like', 'notLike', 'ilike', 'notILike', 'match', 'splitByChar', 'splitByString', 'formatReadableQuantity', 'formatReadableSize',
  'formatReadableTimeDelta',
  // type conversion
  'toString', 'CAST', 'toUInt8', 'toUInt16', 'toUInt32', 'toUInt64', 'toInt8', 'toInt16', 'toInt32', 'toInt64', 'toFloat32', 'toFloat64',
  'toUInt32OrZero', 'toUInt64OrZero', 'toInt64OrZero', 'toFloat64OrZero', 'toUInt64OrNull', 'toInt64OrNull', 'toFloat64OrNull', 'toDecimal64',
  // arrays and tuples (the views' quantile arrays, groupArray results)
  'array', 'tuple', 'tupleElement', 'arrayElement', 'has', 'hasAny', 'hasAll', 'indexOf', 'arraySlice', 'arrayConcat', 'arraySort',
  'arrayReverseSort', 'arrayReverse', 'arrayDistinct', 'arrayStringConcat', 'arraySum', 'arrayAvg', 'arrayMin', 'arrayMax', 'arrayCount',
  'arrayExists', 'arrayAll', 'arrayMap', 'arrayFilter', 'lambda',
  // subquery predicate
  'exists',
] as const;

const EXACT = new Set<string>(FUNCTIONS.map((f) => f.toLowerCase()));
const AGGREGATE_BASES = [...AGGREGATES].sort((a, b) => b.length - a.length);

/** Whether an analyst query may call the function `name` (as the parser read it). */
export function analystMayCall(name: string): boolean {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return false;
  const n = name.toLowerCase();
  if (EXACT.has(n)) return true;
  for (const base of AGGREGATE_BASES) {
    if (n.startsWith(base.toLowerCase())) {
      const rest = name.slice(base.length);
      // The combinator part keeps ClickHouse's spelling (sumIf, not sumif).
      if (AGGREGATE_COMBINATORS.test(rest)) return true;
    }
  }
  return false;
}

/** Every name on the allowlist (aggregates without combinators), for the documentation test and docs/analysts.md. */
export const ANALYST_FUNCTIONS: readonly string[] = [...AGGREGATES, ...FUNCTIONS];

/**
 * Functions that reach outside the database (files, network, other servers,
 * processes): refused for every role, admins included, even under readonly
 * (the scalar `file()` reads any file the process may read).
 */
const OUTSIDE_PREFIXES = [
  'file', 's3', 'gcs', 'oss', 'cosn', 'hdfs', 'azureblob', 'remote', 'cluster', 'executable', 'mysql', 'postgresql',
  'mongodb', 'sqlite', 'odbc', 'jdbc', 'redis', 'iceberg', 'deltalake', 'hudi', 'hive', 'paimon', 'arrowflight', 'ytsaurus',
];
const OUTSIDE_EXACT = new Set(['url', 'urlcluster', 'input', 'loop', 'fuzzjson', 'fuzzquery', 'generaterandom']);

export function outsideFunction(name: string): boolean {
  const n = name.toLowerCase();
  return OUTSIDE_EXACT.has(n) || OUTSIDE_PREFIXES.some((p) => n.startsWith(p));
}
