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
 *
 * Why a worker secret as well: whoever reads Redis (an admin, a replica, an
 * AOF/RDB file or backup) reads the salts, and a row stores the visitor's
 * network prefix and generalised browser. Browsers send reduced user agents,
 * so 256 addresses × a few dozen user agents per stored visitor id is a
 * search of milliseconds (test/admin-reidentify.integration.test.ts). So ids
 * are never keyed by the salt alone: the key of a day is
 * HMAC-SHA256(worker secret, salt) (`dayIdKey`), where the worker secret is
 * derived from the workers' private sealing key (src/queue/seal.ts
 * `workerIdSecret`), which production keeps in the workers' secret store,
 * never beside Redis or ClickHouse. Salts stay the only shared random state
 * (SET NX), and the key of a day still dies with its salt: after 48 h
 * nobody, the key holder included, can recompute an id.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

const DAY_MS = 86_400_000;

export interface SaltBackend {
  /** Stores `value` under `key` unless a value exists (expiring at `expireAtMs`), and returns the stored one. */
  getOrCreate(key: string, value: Buffer, expireAtMs: number): Promise<Buffer>;
}

export interface DaySalt {
  /** The day's id key, HMAC-SHA256(worker secret, day salt) (`dayIdKey`): what every keyed id of the day is computed under. */
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

const DAY_KEY_LABEL = 'anon-analytics/day-id-key/v1\0';
/** A worker secret shorter than this is refused: it would be the weak link of every id. */
export const MIN_WORKER_SECRET_BYTES = 32;

/** The key of a day's ids: the salt (shared through Redis) under the worker secret (never in Redis or ClickHouse). */
export function dayIdKey(salt: Buffer, workerSecret: Buffer): Buffer {
  return createHmac('sha256', workerSecret).update(DAY_KEY_LABEL).update(salt).digest();
}

export class SaltRing {
  /** Day keys (never the raw salts) by day, until the salt expires. */
  private readonly cache = new Map<string, { salt: Promise<Buffer>; expireAt: number }>();

  constructor(
    private readonly backend: SaltBackend,
    private readonly workerSecret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    if (!Buffer.isBuffer(workerSecret) || workerSecret.length < MIN_WORKER_SECRET_BYTES) {
      throw new Error(`the worker secret must be at least ${MIN_WORKER_SECRET_BYTES} bytes`);
    }
  }

  async saltFor(receivedAtMs: number): Promise<DaySalt> {
    const now = this.now();
    const at = Math.min(receivedAtMs, now);
    const expireAt = saltExpiry(at);
    if (expireAt <= now) return { salt: dayIdKey(randomBytes(32), this.workerSecret), late: true };
    for (const [k, v] of this.cache) if (v.expireAt <= now) this.cache.delete(k);
    const key = dayKey(at);
    let entry = this.cache.get(key);
    if (!entry) {
      const salt = this.backend.getOrCreate(key, randomBytes(32), expireAt).then((s) => dayIdKey(s, this.workerSecret));
      entry = { salt, expireAt };
      this.cache.set(key, entry);
      // A failed fetch must not be cached: the next job tries again.
      salt.catch(() => this.cache.delete(key));
    }
    return { salt: await entry.salt, late: false };
  }
}
