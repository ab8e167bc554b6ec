/**
 * The collector's HTTP surface. `POST /collect`, the hot path, is answered
 * straight from node:http (express's router, request and response wrappers
 * cost more than the rest of a small request); every other route (health,
 * readiness, CORS preflight, tracker script, demo, query, dashboard, metrics)
 * is an express 5 app. Every answer is JSON and says what was wrong; 202 is
 * sent only after Redis has the job.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Request, type Response, type Router } from 'express';
import proxyaddr from 'proxy-addr';
import type { RequestContext } from '../wire/types.js';
import { isCanonicalIp } from '../wire/ip.js';
import { MAX_USER_AGENT } from '../wire/limits.js';
import { createRoutesApp } from '../http/server.js';
import { createHealthRouter, type ReadinessCheck } from '../observe/health.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics, RefusalReason } from '../observe/metrics.js';
import { BodyError, checkBodyHeaders, parseJson, readBodyText } from './body.js';
import type { RateDecision, RateLimiter } from './rate-limit.js';
import { BatchError, validateBatch } from '../wire/validate.js';

export interface CollectQueue {
  submit(req: { ctx: RequestContext; events: import('../wire/types.js').WireEvent[] }): Promise<void>;
  overloaded(): boolean;
}

export interface CollectorDeps {
  sites: Readonly<Record<string, readonly string[]>>;
  trustProxy: string | number | boolean;
  consent: { honorGpc: boolean; honorDnt: boolean };
  queue: CollectQueue;
  readiness: ReadinessCheck[];
  metrics: Metrics;
  log: Logger;
  /** Per-site and per-address request limits (absent = none). */
  rateLimit?: RateLimiter;
  /** Extra routes mounted by the process (tracker script, demo, query, dashboard, metrics). */
  routers?: Router[];
  now?: () => number;
}

const RETRY_AFTER_UNAVAILABLE = '2';
const RETRY_AFTER_OVERLOADED = '5';
/** Any shop may post events (sites and page hosts are checked in the body); no credentials are ever used. */
const COLLECT_CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Retry-After' };

const REFUSAL_BY_STATUS: Record<number, RefusalReason> = { 400: 'bad_request', 403: 'forbidden', 413: 'too_large', 415: 'unsupported_media_type' };

function sendJson(res: Response, status: number, body: unknown, headers?: Record<string, string>): void {
  res.status(status);
  if (headers) res.set(headers);
  res.type('application/json').send(JSON.stringify(body));
}

/** The same answer, from node:http alone (the /collect hot path). */
function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function consentWithdrawn(req: IncomingMessage, consent: CollectorDeps['consent']): boolean {
  return (consent.honorGpc && req.headers['sec-gpc'] === '1') || (consent.honorDnt && req.headers['dnt'] === '1');
}

export function createCollectorApp(deps: CollectorDeps): RequestListener {
  const { metrics, log } = deps;
  const now = deps.now ?? Date.now;
  // Preflight for clients posting application/json cross-origin (the tracker's text/plain needs none).
  const collectRoutes = express.Router();
  collectRoutes.options('/collect', (_req, res) => {
    res.set({ ...COLLECT_CORS, 'Access-Control-Allow-Methods': 'POST', 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '86400' });
    res.status(204).end();
  });
  collectRoutes.all('/collect', (_req, res) => sendJson(res, 405, { error: 'use POST' }, { Allow: 'POST' }));
  const app = createRoutesApp([collectRoutes, createHealthRouter(deps.readiness), ...(deps.routers ?? [])], log);
  app.disable('etag');
  app.set('trust proxy', deps.trustProxy);
  // express's own compiled form of the trust-proxy setting, so req.ip on the hot path is exactly express's.
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;

  const collect = async (req: IncomingMessage, res: ServerResponse) => {
    const end = metrics.requests.startTimer();
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => {
      // The tracker runs on the shop's origin: it must be able to read 429/503 Retry-After.
      const all: Record<string, string> = { ...COLLECT_CORS, ...headers };
      // A body left unread (refused before or while reading it) is not drained: the connection
      // is closed after the answer, so a client cannot keep streaming megabytes at us.
      if (!req.complete) all.Connection = 'close';
      writeJson(res, status, body, all);
      end({ status: String(status) });
    };
    const refuse = (reason: RefusalReason, status: number, body: unknown, headers?: Record<string, string>) => {
      metrics.requestsRefused.inc({ reason });
      // Bounded fields only: the reason label and status, never the request's own text.
      log.debug({ status, reason }, 'collect request refused');
      reply(status, body, headers);
    };
    const tooMany = (d: Exclude<RateDecision, { ok: true }>) =>
      refuse(d.scope === 'site' ? 'rate_limited_site' : 'rate_limited_address', 429, { error: `rate limit of this ${d.scope} exceeded; retry later` }, {
        'Retry-After': String(d.retryAfterSeconds),
      });
    // The client address as express computes req.ip (TRUST_PROXY); it only feeds a keyed hash (rate-limit.ts)
    // and the sealed context, and is never logged or stored here.
    const clientAddress = req.socket.remoteAddress ? proxyaddr(req, trust) : '';
    try {
      checkBodyHeaders(req);
      // An address already over its limit is refused before its body is read, without Redis.
      const known = deps.rateLimit?.knownBlocked(clientAddress);
      if (known && !known.ok) return tooMany(known);
      if (consentWithdrawn(req, deps.consent)) {
        // Dropped before the body is read or sealed: nothing of it is kept.
        metrics.eventsDropped.inc({ reason: 'consent' });
        return reply(202, { accepted: 0, dropped: 'consent' });
      }
      const batch = validateBatch(parseJson(await readBodyText(req)), deps.sites);
      for (const r of batch.rejected) metrics.eventsRejected.inc({ reason: r.field });
      const rejected = batch.rejected.map(({ index, reason }) => ({ index, reason }));
      if (batch.events.length === 0) return reply(202, { accepted: 0, rejected });
      if (deps.rateLimit?.enabled) {
        let decision: RateDecision;
        try {
          decision = await deps.rateLimit.consume(clientAddress, batch.site);
        } catch (err) {
          log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'rate limiter unavailable, answering 503');
          return refuse('queue_unavailable', 503, { error: 'queue unavailable; retry later' }, { 'Retry-After': RETRY_AFTER_UNAVAILABLE });
        }
        if (!decision.ok) return tooMany(decision);
      }
      if (deps.queue.overloaded()) {
        return refuse('overloaded', 503, { error: 'queue is above its high-water mark; retry later' }, { 'Retry-After': RETRY_AFTER_OVERLOADED });
      }
      const ctx: RequestContext = {
        site: batch.site,
        // A forwarded value that is not a canonical address is never passed on.
        ip: isCanonicalIp(clientAddress) ? clientAddress : '',
        userAgent: (req.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT),
        receivedAt: now(),
      };
      try {
        await deps.queue.submit({ ctx, events: batch.events });
      } catch (err) {
        log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'queue unavailable, answering 503');
        return refuse('queue_unavailable', 503, { error: 'queue unavailable; retry later' }, { 'Retry-After': RETRY_AFTER_UNAVAILABLE });
      }
      metrics.eventsAccepted.inc(batch.events.length);
      return reply(202, { accepted: batch.events.length, rejected });
    } catch (err) {
      if (err instanceof BodyError || err instanceof BatchError) return refuse(REFUSAL_BY_STATUS[err.status] ?? 'bad_request', err.status, { error: err.message });
      log.error({ err }, 'unexpected error in /collect');
      return refuse('internal', 500, { error: 'internal error' });
    }
  };

  return (req, res) => {
    if (req.method === 'POST' && (req.url === '/collect' || req.url?.startsWith('/collect?'))) {
      collect(req, res).catch((err: unknown) => {
        log.error({ err }, 'unexpected error in /collect');
        if (!res.headersSent) writeJson(res, 500, { error: 'internal error' }, COLLECT_CORS);
      });
      return;
    }
    app(req as Request, res as Response);
  };
}
