/**
 * Daily salts.
 *
 * Why daily: a visitor id is HMAC(salt, site ‖ IP ‖ UA). With one salt per
 * UTC day, ids link a visitor's events within a day (for bounce, dwell time,
 * next-page questions) but never across days.
 *
 * Why Redis: every worker must hash with the same salt or the same visitor
 * would get several ids; the first worker to need a day's salt creates it
 * with SET NX, and all others read that one. Redis is the only place a salt
 * is ever written; it is cached in worker memory until it expires and never
 * logged (log `saltFingerprint` at most).
 *
 * Why at most 48 h: a day's salt is needed while that day's events may still
 * be in the queue. It expires at the end of the following UTC day (≤ 48 h
 * after it was created), so only today's and yesterday's exist. Once it is
 * gone nobody, operators included, can recompute an id. An event older than
 * that (a queue stalled for days) is hashed with a one-off salt that is never
 * stored: its ids link to nothing. An event stamped in the future (a
 * collector's clock ahead of the worker's) is hashed under today's salt:
 * creating tomorrow's salt today would keep it for up to 72 h.
 */
import { createHash, randomBytes } from 'node:crypto';

const DAY_MS = 86_400_000;

export interface SaltBackend {
  /** Stores `value` under `key` unless a value exists (expiring at `expireAtMs`), and returns the stored one. */
  getOrCreate(key: string, value: Buffer, expireAtMs: number): Promise<Buffer>;
}

export interface DaySalt {
  salt: Buffer;
  /** True when the event's day is past the salt window: the salt is one-off and unstored. */
  late: boolean;
}

export function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Expiry of a day's salt: the end of the following UTC day. */
export function saltExpiry(ms: number): number {
  return (Math.floor(ms / DAY_MS) + 2) * DAY_MS;
}

export function saltFingerprint(salt: Buffer): string {
  return createHash('sha256').update(salt).digest('hex').slice(0, 8);
}

export class SaltRing {
  private readonly cache = new Map<string, { salt: Promise<Buffer>; expireAt: number }>();

  constructor(
    private readonly backend: SaltBackend,
    private readonly now: () => number = Date.now,
  ) {}

  async saltFor(receivedAtMs: number): Promise<DaySalt> {
    const now = this.now();
    const at = Math.min(receivedAtMs, now);
    const expireAt = saltExpiry(at);
    if (expireAt <= now) return { salt: randomBytes(32), late: true };
    for (const [k, v] of this.cache) if (v.expireAt <= now) this.cache.delete(k);
    const key = dayKey(at);
    let entry = this.cache.get(key);
    if (!entry) {
      const salt = this.backend.getOrCreate(key, randomBytes(32), expireAt);
      entry = { salt, expireAt };
      this.cache.set(key, entry);
      // A failed fetch must not be cached: the next job tries again.
      salt.catch(() => this.cache.delete(key));
    }
    return { salt: await entry.salt, late: false };
  }
}
