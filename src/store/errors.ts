/**
 * What a failed ClickHouse call means for the rows it carried, decided on the
 * error's numeric code (never on its message text when a code is there):
 * - the store as a whole cannot take writes now (full disk, read-only, memory,
 *   network): not the rows' fault, so they wait without using up attempts;
 * - the rows themselves are wrong (parse and type errors, constraints): the
 *   same rows can never succeed.
 */
import { InsertError } from './inserter.js';

/** ClickHouse error codes that mean "these rows are wrong": retrying the same rows cannot help. */
const DATA_REJECTED: ReadonlySet<number> = new Set([6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 469]);

/**
 * ClickHouse error codes that mean "the store cannot take writes right now",
 * whatever the rows. The embedded store's ping is an in-process SELECT 1 that
 * still succeeds with a full disk, a read-only data directory or the memory
 * limit reached, so the code decides, not the ping.
 */
const STORE_UNAVAILABLE: ReadonlyMap<number, string> = new Map([
  [159, 'TIMEOUT_EXCEEDED'],
  [164, 'READONLY'],
  [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [236, 'ABORTED'],
  [241, 'MEMORY_LIMIT_EXCEEDED'],
  [242, 'TABLE_IS_READ_ONLY'],
  [243, 'NOT_ENOUGH_SPACE'],
  [252, 'TOO_MANY_PARTS'],
  [999, 'KEEPER_EXCEPTION'],
]);

/**
 * The ClickHouse error code of a failed call: the client's `code` field, or
 * (the embedded engine reports some errors as plain Errors) the "Code: N."
 * that ClickHouse itself puts at the start of every exception text.
 */
export function clickHouseErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number' && Number.isInteger(code)) return code;
  if (typeof code === 'string' && /^[0-9]+$/.test(code)) return Number(code);
  const m = /Code: ([0-9]+)\./.exec(String((err as Error | undefined)?.message ?? ''));
  return m ? Number(m[1]) : undefined;
}

const codeOf = (err: unknown) => clickHouseErrorCode(err instanceof InsertError ? err.cause : err);

/** The store-wide condition behind a failed store call (an InsertError is judged by its cause), if any. */
export function storeWideFailure(err: unknown): string | undefined {
  const code = codeOf(err);
  return code === undefined ? undefined : STORE_UNAVAILABLE.get(code);
}

/** Whether ClickHouse refused the rows themselves (so the same rows will never be taken). */
export function rowsRejected(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && DATA_REJECTED.has(code);
}
