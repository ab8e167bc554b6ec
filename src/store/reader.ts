/**
 * Streaming reads for POST /query, apart from ingestion.
 *
 * Why its own connections: a chDB connection runs one statement at a time,
 * so an analyst query on the writer's connection made every insert, and the
 * `/readyz` ping, wait behind it (measured: a 27 s query, `/readyz` 503, an
 * admin `SELECT 1` 10.6 s, active jobs piling up). Embedded mode therefore
 * opens `size` more sessions on the same data directory (chDB runs
 * same-directory sessions in parallel, each with its own query state) plus
 * one to cancel with; server mode uses the HTTP client, where each query is a
 * request of its own.
 *
 * Why streaming: a result is handed on chunk by chunk (a block at a time)
 * as the engine produces it, never buffered whole; the caller stops reading
 * when its limit is reached or its client went away.
 *
 * Why KILL QUERY: chDB's stream cancellation waits for the block being
 * computed, which for an aggregation is the whole query. `KILL QUERY` from
 * another connection stops it within about 0.1 s. Each query carries its id
 * in its text (`log_comment`), which is how system.processes finds it.
 */
import type { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Store } from './client.js';
import { clickHouseParser, sessionParser, type SqlParser } from './parser.js';

export interface QueryResult {
  /** The result's bytes in the requested format, in order. The first chunk has already been computed. */
  chunks: AsyncIterable<Uint8Array>;
  /** Rows produced so far (embedded mode); undefined where the engine does not say (server mode). */
  rows(): number | undefined;
  /** Stops reading; the caller has killed the query first if it is still running. */
  close(): Promise<void>;
}

export interface QueryReader {
  /** The parser for the guard: on the reader's own connection in embedded mode, never queued behind inserts. */
  parser: SqlParser;
  /**
   * Runs `sql` (a checked query with its SETTINGS clause) and resolves once
   * its first chunk is there (or the result is empty): a failure before any
   * output rejects here, so the caller can still choose the status code.
   */
  run(sql: string, format: string, queryId: string): Promise<QueryResult>;
  /** Stops the query with this id, if it is still running. */
  cancel(queryId: string): Promise<void>;
  close(): Promise<void>;
}

interface ChdbChunk {
  numRows: number;
  raw(): Uint8Array;
}
interface ChdbStream extends AsyncIterable<ChdbChunk> {
  cancel(): void;
}
interface ChdbSession {
  queryStream(sql: string, opts: { format: string }): ChdbStream;
  queryAsync(sql: string, opts?: { format?: string }): Promise<{ text(): string }>;
  close(): void;
}

/** The ids a KILL may name: our own UUIDs only, so the id never carries SQL. */
const QUERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The last settings of every query run through a reader: its id (as
 * log_comment, which is how system.processes finds it) and readonly = 1,
 * which must come last. A query that merely mentions the id (an admin reading
 * the audit table, the audit insert) does not end with this.
 */
export function readerSettingsTail(queryId: string): string {
  return `log_comment = '${QUERY_ID.test(queryId) ? queryId : ''}', readonly = 1`;
}

export async function openQueryReader(store: Store, size: number): Promise<QueryReader> {
  return store.embedded ? openEmbeddedReader(store.dataPath, size) : serverReader(store.client);
}

async function openEmbeddedReader(dataPath: string, size: number): Promise<QueryReader> {
  // chdb is only loaded in embedded mode: a server deployment never needs it.
  const { Session } = (await import('chdb')) as unknown as { Session: new (path: string) => ChdbSession };
  const free: ChdbSession[] = Array.from({ length: size }, () => new Session(dataPath));
  const control = new Session(dataPath);
  const all = new Set(free);
  const waiting: ((s: ChdbSession) => void)[] = [];
  const acquire = () => new Promise<ChdbSession>((resolve) => (free.length ? resolve(free.pop()!) : waiting.push(resolve)));
  const release = (s: ChdbSession) => {
    const next = waiting.shift();
    if (next) next(s);
    else free.push(s);
  };
  // A stream that failed or was left early (killed, timed out, over a limit, its client gone) is marked closed by
  // chDB without its native handle being destroyed, which keeps the query in system.processes and its state
  // alive. Its session is closed instead (that releases everything on its connection; chDB defers the teardown
  // until running native calls return) and a fresh one takes its place.
  const replace = (s: ChdbSession): ChdbSession => {
    all.delete(s);
    s.close();
    const fresh = new Session(dataPath);
    all.add(fresh);
    return fresh;
  };
  // One column per row, as JSON strings: a value is never split or unescaped by hand.
  const column = async (sql: string) =>
    (await control.queryAsync(sql, { format: 'JSONCompactEachRow' }))
      .text()
      .split('\n')
      .filter(Boolean)
      .map((line) => String((JSON.parse(line) as unknown[])[0]));
  return {
    parser: sessionParser(column),
    async run(sql, format, queryId) {
      const session = await acquire();
      let released = false;
      let clean = false;
      const done = () => {
        if (released) return;
        released = true;
        release(clean ? session : replace(session));
      };
      let rows = 0;
      let it: AsyncIterator<ChdbChunk>;
      let next: IteratorResult<ChdbChunk>;
      try {
        it = session.queryStream(sql, { format })[Symbol.asyncIterator]();
        next = await it.next();
      } catch (err) {
        done();
        throw err;
      }
      async function* chunks(): AsyncGenerator<Uint8Array> {
        try {
          while (!next.done) {
            rows += next.value.numRows;
            yield next.value.raw();
            next = await it.next();
          }
          clean = true;
        } finally {
          done();
        }
      }
      const gen = chunks();
      return {
        chunks: gen,
        rows: () => rows,
        async close() {
          await gen.return(undefined);
          if (next.done) clean = true;
          done();
        },
      };
    },
    async cancel(queryId) {
      if (!QUERY_ID.test(queryId)) return;
      // Only the query whose text ends with this id's settings (analyst text cannot carry a SETTINGS clause).
      const tail = readerSettingsTail(queryId).replace(/'/g, "\\'");
      await control.queryAsync(`KILL QUERY WHERE endsWith(query, '${tail}') ASYNC`).catch(() => {});
    },
    async close() {
      for (const s of [...all, control]) s.close();
    },
  };
}

function serverReader(client: ClickHouseClient): QueryReader {
  return {
    parser: clickHouseParser(client),
    async run(sql, format, queryId) {
      const ac = new AbortController();
      // The HTTP client sends the FORMAT clause itself for query(); exec() runs the text as given.
      const res = await client.exec({
        query: `${sql}\nFORMAT ${format}`,
        query_id: queryId,
        abort_signal: ac.signal,
        // A dropped HTTP request stops its read-only query on the server.
        clickhouse_settings: { cancel_http_readonly_queries_on_client_close: 1, wait_end_of_query: 0 },
      });
      const stream = res.stream as Readable;
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const first = await it.next();
      async function* chunks(): AsyncGenerator<Uint8Array> {
        try {
          let r = first;
          while (!r.done) {
            yield r.value;
            r = await it.next();
          }
        } finally {
          stream.destroy();
        }
      }
      const gen = chunks();
      return {
        chunks: gen,
        rows: () => undefined,
        async close() {
          ac.abort();
          await gen.return(undefined);
        },
      };
    },
    async cancel(queryId) {
      if (!QUERY_ID.test(queryId)) return;
      await client.command({ query: 'KILL QUERY WHERE query_id = {id:String} ASYNC', query_params: { id: queryId } }).catch(() => {});
    },
    async close() {},
  };
}
