/**
 * A worker's check of what it opens. A sealed job proves only that someone
 * holding the workers' public key made it, and every collector holds that
 * key; so the worker applies the collector's own rules again (the same
 * validateBatch, the same limits) and adds what only it can check:
 * - the request context has exactly the fields a collector writes, each
 *   within its bound, and a client address that is canonical or empty;
 * - the site is configured (an own key of SITES, so not `__proto__`);
 * - the receive time lies within the worker's clock window: not ahead of it
 *   by more than MAX_CLOCK_SKEW_MS, not older than JOB_MAX_AGE_HOURS (older
 *   replay material is useless, and the replay guard can forget it);
 * - the whole job holds at most MAX_JOB_EVENTS events.
 * A job that fails any of these was not written by a collector: it is
 * rejected whole, with a typed reason (counted, and said in the dead letter).
 */
import { isCanonicalIp } from './ip.js';
import { MAX_ACCEPT_LANGUAGE, MAX_CLOCK_SKEW_MS, MAX_EVENTS, MAX_JOB_EVENTS, MAX_USER_AGENT } from './limits.js';
import type { CollectedRequest } from './types.js';
import { BatchError, validateBatch } from './validate.js';

/** Why a job was refused. */
export type JobRejection =
  | 'malformed_payload'
  | 'request_context'
  | 'client_address'
  | 'unknown_site'
  | 'future'
  | 'expired'
  | 'too_many_events'
  | 'invalid_event'
  | 'replay'
  | 'unsigned'
  | 'unknown_collector'
  | 'bad_signature';

/** What each reason says in a dead letter: fixed text, never anything from the job. */
export const JOB_REJECTION_TEXT: Readonly<Record<JobRejection, string>> = {
  malformed_payload: 'malformed payload: not a list of collected requests',
  request_context: 'bad request context: not the fields a collector writes',
  client_address: 'bad client address: not canonical',
  unknown_site: 'unknown site',
  future: 'received in the future (beyond the allowed clock skew)',
  expired: 'expired: received longer ago than JOB_MAX_AGE_HOURS',
  too_many_events: 'too many events for one job or one request',
  invalid_event: 'invalid event: refused by the wire format rules',
  replay: 'replay: this sealed job was taken before under another job id',
  unsigned: 'unsigned: no collector signature, and this worker accepts only signed jobs',
  unknown_collector: 'unknown collector: not in TRUSTED_COLLECTORS',
  bad_signature: 'bad signature',
};

export interface JobWindow {
  /** The worker's clock, ms since epoch. */
  now: number;
  maxAgeMs: number;
}

export type CollectedCheck = { ok: true; requests: CollectedRequest[]; receivedFrom: number } | { ok: false; reason: JobRejection };

const CONTEXT_KEYS = ['site', 'ip', 'userAgent', 'receivedAt'];
/** Collectors before Accept-Language stopped being collected also sealed it: such jobs are taken, the field dropped unread. */
const LEGACY_CONTEXT_KEYS = [...CONTEXT_KEYS, 'acceptLanguage'];
const REQUEST_KEYS = ['ctx', 'events'];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const exactKeys = (o: Record<string, unknown>, keys: readonly string[]) => {
  const own = Object.keys(o);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(o, k));
};
const boundedString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** Checks the collected requests of an opened job; the result holds fresh, validated copies only. */
export function checkCollected(reqs: unknown, sites: Readonly<Record<string, readonly string[]>>, window: JobWindow): CollectedCheck {
  const fail = (reason: JobRejection): CollectedCheck => ({ ok: false, reason });
  if (!Array.isArray(reqs) || reqs.length === 0) return fail('malformed_payload');
  let total = 0;
  let receivedFrom = Infinity;
  const out: CollectedRequest[] = [];
  for (const req of reqs as unknown[]) {
    if (!isPlainObject(req) || !exactKeys(req, REQUEST_KEYS) || !isPlainObject(req.ctx) || !Array.isArray(req.events)) return fail('malformed_payload');
    const c = req.ctx;
    const legacy = exactKeys(c, LEGACY_CONTEXT_KEYS);
    if (!exactKeys(c, CONTEXT_KEYS) && !legacy) return fail('request_context');
    if (typeof c.site !== 'string' || !Object.hasOwn(sites, c.site)) return fail('unknown_site');
    if (!boundedString(c.userAgent, MAX_USER_AGENT) || (legacy && !boundedString(c.acceptLanguage, MAX_ACCEPT_LANGUAGE))) return fail('request_context');
    if (typeof c.ip !== 'string' || (c.ip !== '' && !isCanonicalIp(c.ip))) return fail('client_address');
    if (typeof c.receivedAt !== 'number' || !Number.isSafeInteger(c.receivedAt) || c.receivedAt <= 0) return fail('request_context');
    if (c.receivedAt > window.now + MAX_CLOCK_SKEW_MS) return fail('future');
    if (c.receivedAt < window.now - window.maxAgeMs) return fail('expired');
    if (req.events.length > MAX_EVENTS || (total += req.events.length) > MAX_JOB_EVENTS) return fail('too_many_events');
    let batch;
    try {
      batch = validateBatch({ site: c.site, events: req.events }, sites);
    } catch (err) {
      if (err instanceof BatchError) return fail('invalid_event');
      throw err;
    }
    // A collector forwards valid events only: one the rules refuse means the job was not a collector's.
    if (batch.rejected.length > 0) return fail('invalid_event');
    receivedFrom = Math.min(receivedFrom, c.receivedAt);
    out.push({ ctx: { site: c.site, ip: c.ip, userAgent: c.userAgent, receivedAt: c.receivedAt }, events: batch.events });
  }
  return { ok: true, requests: out, receivedFrom };
}
