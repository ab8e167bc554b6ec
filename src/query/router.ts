/**
 * POST /query: read-only SQL for the process that owns the embedded store.
 * Body = SQL; ?format= any ClickHouse output format (default JSONEachRow);
 * Authorization: Bearer <ANALYST_TOKEN | ADMIN_TOKEN>. ClickHouse runs it with
 * readonly=1; analysts are further limited to the analyst views. Each query is
 * logged with who and when and its text, never its result.
 */
import express, { type Router } from 'express';
import type { ClickHouseClient } from '../store/client.js';
import type { Logger } from '../observe/logger.js';
import { analystViews, checkQuery, QueryDenied, QueryRefused, readOnlySql } from './guard.js';
import { roleFor, type Tokens } from './tokens.js';

const FORMAT = /^[A-Za-z][A-Za-z0-9]{1,40}$/;
const MAX_SQL = 64 * 1024;

export function createQueryRouter(deps: { client: ClickHouseClient; tokens: Tokens; log: Logger }): Router {
  const router = express.Router();
  router.post('/query', express.text({ type: () => true, limit: MAX_SQL }), async (req, res) => {
    const role = roleFor(req.headers.authorization, deps.tokens);
    if (!role) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'missing or wrong bearer token (ANALYST_TOKEN or ADMIN_TOKEN)' });
      return;
    }
    const sql = typeof req.body === 'string' ? req.body.trim().replace(/;\s*$/, '') : '';
    if (!sql) {
      res.status(400).json({ error: 'body must be the SQL text of one query' });
      return;
    }
    const format = typeof req.query.format === 'string' ? req.query.format : 'JSONEachRow';
    if (!FORMAT.test(format)) {
      res.status(400).json({ error: 'format must be a ClickHouse output format name, e.g. JSONEachRow, CSV, Pretty' });
      return;
    }
    // The audit trail: who, when, what (the text an analyst wrote holds no visitor data; results are never logged).
    deps.log.info({ audit: 'query', role, sql: sql.slice(0, 2000), format }, 'query');
    try {
      const checked = await checkQuery(deps.client, sql, role, role === 'analyst' ? await analystViews(deps.client) : new Set());
      // What runs is the engine's own normalised print of the query (one statement, no comments), read-only.
      // readonly=1 also forbids changing any other setting in the same query (so no max_execution_time here;
      // the ClickHouse server's analyst profile sets it in server mode).
      const rs = await deps.client.query({ query: readOnlySql(checked), format: format as 'JSONEachRow' });
      const type = /EachRow|Lines/.test(format) ? 'application/x-ndjson' : format.startsWith('JSON') ? 'application/json' : 'text/plain';
      res.status(200).type(type).send(await rs.text());
    } catch (err) {
      if (err instanceof QueryDenied) {
        res.status(403).json({ error: err.message });
        return;
      }
      if (err instanceof QueryRefused) {
        res.status(400).json({ error: err.message });
        return;
      }
      res.status(400).json({ error: (err as Error).message.slice(0, 1000) });
    }
  });
  return router;
}
