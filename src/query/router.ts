/**
 * POST /query: read-only SQL for people, on the query port (QUERY_PORT).
 * Body = SQL; ?format= one of src/query/formats.ts (default JSONEachRow);
 * Authorization: Bearer <a named credential or the bootstrap pair>.
 *
 * The steps of one request:
 *   1. who: the credential (src/query/tokens.ts) or 401;
 *   2. a slot: at most QUERY_CONCURRENCY queries at once, else 429 +
 *      Retry-After (queries are cheap to retry, a queue would only hide load);
 *   3. the guard (src/query/guard.ts), on syntax alone;
 *   4. the query runs with its limits (src/query/settings.ts) on a read
 *      connection of its own (src/store/reader.ts) and its result is streamed
 *      block by block; a client that goes away has its query killed; a result
 *      past QUERY_MAX_RESULT_BYTES is cut off;
 *   5. the audit row (who, role, when, SQL, status, rows, bytes, duration).
 *
 * One answer for every refusal and failure an analyst can cause: status 400
 * and the same body, with only the query id in it. What went wrong (the
 * guard's rule, ClickHouse's error text) goes to the server log and the audit
 * table under that id: an analyst who could tell one failure from another, or
 * read an error message, could learn from rows the views never release.
 * Admins get the reason.
 */
import { randomUUID } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import type { Logger } from '../observe/logger.js';
import { clickHouseErrorCode } from '../store/errors.js';
import type { SqlParser } from '../store/parser.js';
import type { QueryReader, QueryResult } from '../store/reader.js';
import type { AuditLog, AuditRow } from './audit.js';
import { dropHeader, FORMAT_NAMES, outputFormat } from './formats.js';
import { checkQuery, QueryRefused } from './guard.js';
import { withQuerySettings, type QueryLimits } from './settings.js';
import type { Credentials } from './tokens.js';

/** The SQL text of one query, at most. */
export const MAX_SQL_BYTES = 64 * 1024;

export const ANALYST_FAILURE =
  'the query was refused or failed. docs/analysts.md lists what analyst queries may use; an administrator can look up the reason by query_id';

export interface QueryRouterDeps {
  parser: SqlParser;
  reader: QueryReader;
  credentials: Credentials;
  audit: AuditLog;
  log: Logger;
  limits: QueryLimits & { concurrency: number };
}

/** The audit status of a ClickHouse failure, from its error code. */
function failureStatus(err: unknown): AuditRow['status'] {
  switch (clickHouseErrorCode(err)) {
    case 159: // TIMEOUT_EXCEEDED
      return 'timeout';
    case 241: // MEMORY_LIMIT_EXCEEDED
    case 396: // TOO_MANY_ROWS_OR_BYTES
    case 158: // TOO_MANY_ROWS
      return 'too_large';
    case 394: // QUERY_WAS_CANCELLED
      return 'cancelled';
    default:
      return 'failed';
  }
}

/** Resolves when `res` can take more data, or its connection closed. */
function writable(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function createQueryRouter(deps: QueryRouterDeps): Router {
  const { limits, log } = deps;
  let running = 0;
  const retryAfter = String(Math.max(1, Math.ceil(limits.maxExecutionSeconds / 2)));
  const router = express.Router();

  router.post('/query', express.text({ type: () => true, limit: MAX_SQL_BYTES }), async (req, res) => {
    const queryId = randomUUID();
    const received = Date.now();
    const who = deps.credentials.identify(req.headers.authorization);
    if (!who) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'missing or unknown bearer token (npm run tokens -- list)' });
      return;
    }
    const sql = typeof req.body === 'string' ? req.body.trim().replace(/;\s*$/, '') : '';
    if (!sql) {
      res.status(400).json({ error: 'the body must be the SQL text of one query' });
      return;
    }
    const format = outputFormat(typeof req.query.format === 'string' ? req.query.format : 'JSONEachRow');
    if (!format) {
      res.status(400).json({ error: `format must be one of ${FORMAT_NAMES.join(', ')} (formats that frame a whole result, such as JSON or Parquet, cannot be streamed)` });
      return;
    }
    const row: AuditRow = { at: new Date(received).toISOString(), query_id: queryId, who: who.name, role: who.role, sql, format: format.name, status: 'ok', reason: '', rows: 0, bytes: 0, duration_ms: 0 };
    const finish = (status: AuditRow['status'], reason = '') => {
      row.status = status;
      row.reason = reason.slice(0, 2000);
      row.duration_ms = Date.now() - received;
      deps.audit.record(row);
      const entry = { audit: 'query', queryId, who: who.name, role: who.role, status, rows: row.rows, bytes: row.bytes, ms: row.duration_ms, sql: sql.slice(0, 2000) };
      if (status === 'ok') log.info(entry, 'query');
      else log.warn({ ...entry, reason: row.reason }, 'query not answered in full');
    };
    const fail = (status: AuditRow['status'], reason: string) => {
      finish(status, reason);
      if (res.headersSent || res.destroyed) return;
      res.status(400).json({ error: who.role === 'admin' ? reason : ANALYST_FAILURE, query_id: queryId });
    };

    if (running >= limits.concurrency) {
      finish('busy', `${running} queries running (QUERY_CONCURRENCY=${limits.concurrency})`);
      res.status(429).set('Retry-After', retryAfter).json({ error: `too many queries at once; retry after ${retryAfter} s`, query_id: queryId });
      return;
    }
    running++;
    let gone = false;
    let result: QueryResult | undefined;
    res.on('close', () => {
      if (res.writableFinished) return;
      gone = true;
      void deps.reader.cancel(queryId);
    });
    try {
      let checked: string;
      try {
        checked = await checkQuery(deps.parser, sql, who.role);
      } catch (err) {
        if (err instanceof QueryRefused) return fail('refused', err.message);
        throw err;
      }
      if (gone) return finish('cancelled', 'the client went away');
      try {
        result = await deps.reader.run(withQuerySettings(checked, limits, queryId), format.name, queryId);
      } catch (err) {
        return fail(gone ? 'cancelled' : failureStatus(err), (err as Error).message);
      }
      res.status(200).type(format.contentType).set('X-Query-Id', queryId);
      let block = 0;
      try {
        for await (const chunk of result.chunks) {
          const out = block++ > 0 && format.headerLines ? dropHeader(chunk, format.headerLines) : chunk;
          row.bytes += out.length;
          if (row.bytes > limits.maxResultBytes) {
            await deps.reader.cancel(queryId);
            res.destroy();
            return finish('too_large', `the result passed QUERY_MAX_RESULT_BYTES (${limits.maxResultBytes}) and was cut off`);
          }
          if (!res.write(out)) await writable(res);
          if (gone) break;
        }
      } catch (err) {
        // Past the status line: a cut-off response (no final chunk) is how HTTP says the body is incomplete.
        res.destroy();
        row.rows = result.rows() ?? 0;
        return finish(gone ? 'cancelled' : failureStatus(err), (err as Error).message);
      }
      row.rows = result.rows() ?? 0;
      if (gone) return finish('cancelled', 'the client went away');
      res.end();
      finish('ok');
    } catch (err) {
      fail('failed', (err as Error).message);
    } finally {
      await result?.close().catch(() => {});
      running--;
    }
  });
  return router;
}
