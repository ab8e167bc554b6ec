/**
 * Keyed identifiers under the day's key, cut to 64 bits. The day key is
 * HMAC-SHA256(worker secret, day salt) (salts.ts `dayIdKey`): whoever holds
 * Redis (the salts) but not the workers' secret cannot recompute an id, and
 * with the salt gone (after 48 h) nobody, operators included, can. Below,
 * "salt" is that day key.
 *
 * - visitor id: HMAC-SHA256(salt, site ‖ full IP ‖ UA), once per request;
 * - page-view id: HMAC-SHA256(salt, site ‖ visitor id ‖ client page-view id),
 *   once per page view of a request. Its first 64 bits are the id; the other
 *   192 bits are the page view's secret, kept in memory for this request only;
 * - event id: SHA-256(page-view secret ‖ client event id), cut to 64 bits: a
 *   keyed hash under a 192-bit key that itself comes from the day's salt, so
 *   it is exactly as unlinkable once the salt is gone, at half the cost of an
 *   HMAC (the event id is the one hash computed for every event; length
 *   extension needs the whole digest, and only 64 bits of it are stored).
 *
 * HMAC parts are length-prefixed so ('ab','c') and ('a','bc') never collide;
 * the event hash has one variable part after a fixed-length hex secret.
 */
import { createHmac, hash } from 'node:crypto';

export function keyedId(salt: Buffer, ...parts: string[]): string {
  return keyedDigest(salt, parts).readBigUInt64BE(0).toString();
}

function keyedDigest(salt: Buffer, parts: string[]): Buffer {
  let msg = '';
  for (const p of parts) msg += `${p.length}:${p}`;
  return createHmac('sha256', salt).update(msg).digest();
}

/** The daily visitor id: the FULL address and user agent, before truncation, under the day's salt. */
export function visitorId(salt: Buffer, site: string, ip: string, ua: string): string {
  return keyedId(salt, 'visitor', site, ip, ua);
}

/** A page view's id and the secret that keys its events' ids (never stored, never logged). */
export interface PageviewKey {
  id: string;
  secret: string;
}

/** A page view: the client's random id, bound to the visitor so ids from different visitors cannot collide. */
export function pageviewKey(salt: Buffer, site: string, visitor: string, clientPageviewId: string): PageviewKey {
  const d = keyedDigest(salt, ['pageview', site, visitor, clientPageviewId]);
  return { id: d.readBigUInt64BE(0).toString(), secret: d.toString('hex', 8) };
}

export function pageviewId(salt: Buffer, site: string, visitor: string, clientPageviewId: string): string {
  return pageviewKey(salt, site, visitor, clientPageviewId).id;
}

/**
 * An event id, stable for the same visitor, client ids and day, so a redelivered or resent event keeps its id
 * (and collapses); bound to the page view (and so to the visitor), so two visitors sending the same client ids
 * never collapse into one row.
 */
export function eventId(pageview: PageviewKey, clientEventId: string): string {
  return hash('sha256', `${pageview.secret}:${clientEventId}`, 'buffer').readBigUInt64BE(0).toString();
}
