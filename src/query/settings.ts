/**
 * The settings every /query query runs with, appended by the server as the
 * query's own SETTINGS clause (a client's SETTINGS clause is refused by the
 * guard). One function, so the embedded mode, the server mode and the
 * server's analyst profile (deploy/clickhouse/users.d/anon.xml, checked
 * against this list by src/query/settings.test.ts) cannot drift apart.
 *
 * Two groups:
 *   - limits: time, memory, result size, one thread, so an analyst query is
 *     stopped at its bound and leaves the other core to ingestion;
 *   - evaluation order: no query-plan optimisation runs on an analyst
 *     query. With them, ClickHouse pushes an outer WHERE below a view's
 *     HAVING (measured: `WHERE toUInt8(concat(viewport, …)) = 0` over
 *     v_heatmap answered "Cannot parse string 'desktop:23:45'" for a cell the
 *     view hides) and into index analysis, where it runs on rows that never
 *     passed the k-filter. Off, every outer expression runs above the view's
 *     result, on released rows only.
 * readonly = 1 comes last: a query-level SETTINGS clause applies in order,
 * and readonly forbids changing anything after it.
 */
import { readerSettingsTail } from '../store/reader.js';

export interface QueryLimits {
  /** Seconds before the query is stopped (max_execution_time). */
  readonly maxExecutionSeconds: number;
  /** Bytes of memory the query may use (max_memory_usage). */
  readonly maxMemoryBytes: number;
  /** Rows and bytes of result (max_result_rows / max_result_bytes, and the streamed bytes). */
  readonly maxResultRows: number;
  readonly maxResultBytes: number;
}

/** The settings, as name → value, in the order they must be applied. */
export function querySettings(limits: QueryLimits): [string, string | number][] {
  return [
    ['max_execution_time', limits.maxExecutionSeconds],
    ['timeout_overflow_mode', "'throw'"],
    ['max_memory_usage', limits.maxMemoryBytes],
    ['max_result_rows', limits.maxResultRows],
    ['max_result_bytes', limits.maxResultBytes],
    ['result_overflow_mode', "'throw'"],
    ['max_threads', 1],
    ['query_plan_enable_optimizations', 0],
    ['query_plan_filter_push_down', 0],
    ['query_plan_merge_filters', 0],
    ['query_plan_merge_expressions', 0],
    ['enable_optimize_predicate_expression', 0],
    ['readonly', 1],
  ];
}

/**
 * The checked, normalised query with its settings (on a line of their own),
 * ending with the query's id and readonly = 1 as the reader wants them
 * (src/store/reader.ts: that is how a request that goes away stops its query).
 */
export function withQuerySettings(sql: string, limits: QueryLimits, queryId: string): string {
  const list = querySettings(limits)
    .filter(([k]) => k !== 'readonly')
    .map(([k, v]) => `${k} = ${v}`);
  return `${sql}\nSETTINGS ${list.join(', ')}, ${readerSettingsTail(queryId)}`;
}
