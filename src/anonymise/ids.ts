/**
 * Keyed identifiers: HMAC-SHA256 under the day's salt, cut to 64 bits. Each
 * part is length-prefixed so ('ab','c') and ('a','bc') never collide. With the
 * salt gone (after 48 h) nobody, operators included, can recompute an id.
 */
import { createHmac } from 'node:crypto';

export function keyedId(salt: Buffer, ...parts: string[]): string {
  let msg = '';
  for (const p of parts) msg += `${p.length}:${p}`;
  return createHmac('sha256', salt).update(msg).digest().readBigUInt64BE(0).toString();
}

/** The daily visitor id: the FULL address and user agent, before truncation, under the day's salt. */
export function visitorId(salt: Buffer, site: string, ip: string, ua: string): string {
  return keyedId(salt, 'visitor', site, ip, ua);
}

/** A page view id: the client's random id, bound to the visitor so ids from different visitors cannot collide. */
export function pageviewId(salt: Buffer, site: string, visitor: string, clientPageviewId: string): string {
  return keyedId(salt, 'pageview', site, visitor, clientPageviewId);
}

/**
 * An event id, stable for the same visitor, client ids and day, so a redelivered or resent event keeps its id
 * (and collapses); bound to the visitor so two visitors sending the same client ids never collapse into one row.
 */
export function eventId(salt: Buffer, site: string, visitor: string, clientPageviewId: string, clientEventId: string): string {
  return keyedId(salt, 'event', site, visitor, clientPageviewId, clientEventId);
}
