/**
 * Rate limits of /collect, per site and per client address.
 *
 * Design note:
 * - Counters live in Redis, so a limit holds across every collector. One
 *   fixed window per key (`INCRBY` + `PEXPIRE` in one Lua script); the window
 *   number is part of the key, so a key is never reused and simply expires.
 * - Local counting far from the limit: a key whose count this process has
 *   read from Redis within the last FRESH_MS (two sync intervals, 200 ms:
 *   a key read at every sync is never older than one interval plus a round
 *   trip, and one sync late under load is not yet stale), and that stays at or
 *   under half its limit with this request, is counted in this process's
 *   memory, with no round trip on the request's path; those counts go to
 *   Redis every SYNC_MS (one script call for all keys), which also refreshes
 *   what this process knows of the other collectors' counts. A key past half
 *   its limit, or not read lately (first request of a window, a quiet key,
 *   Redis away), is counted in Redis before the request is answered, exactly
 *   as before. Tolerance: one collector alone counts exactly; several can
 *   overshoot a limit only if together they take more than half of it within
 *   FRESH_MS (the others' counts reach each of them at most FRESH_MS late),
 *   and then by at most what they take in that time.
 *   Why: this check was a Redis round trip on the path of every request, the
 *   largest part of a 1-event request's latency after the queue write.
 * - Keys kept fresh: a visitor sends a request every few seconds, not every
 *   SYNC_MS, so its key would be stale at each request and every request
 *   would wait for Redis (measured at half load with 400 addresses: 2.6 ms
 *   median, 21.6 ms p99 of the collector's 12 ms median). Each sync therefore
 *   also reads (INCRBY 0, in the same script call) the keys this process
 *   counted within the last ACTIVE_MS, at most MAX_REFRESH of them, the most
 *   recently used first. Such a key is read within FRESH_MS like any other,
 *   so the tolerance above holds; only the first request of an address in a
 *   window waits for Redis.
 * - Group commit, as in the producer (src/lib/group-commit.ts): the checks of
 *   all requests that arrive in one turn of the event loop (at most MAX_GROUP
 *   of them) go to Redis in a single script call, and each request still gets
 *   its exact count (its position within its key's increment). At high
 *   request rates this keeps the limiter at a fraction of a Redis round trip
 *   per request, without any extra delay.
 * - Privacy: a client address never appears in a key name. The key holds an
 *   HMAC-SHA256 of the address under RATE_LIMIT_SECRET (or, unset, a random
 *   per-process secret), which is never written to Redis or logged: a Redis
 *   dump alone cannot be brute-forced back to addresses, and the keys expire
 *   within a window anyway. With the per-process default, each collector
 *   counts addresses on its own (site counters are always shared); set the
 *   same RATE_LIMIT_SECRET on every collector to share them.
 * - Cheap refusals: once a key is over its limit, this process remembers it
 *   until the window ends and refuses without asking Redis, so a flood from
 *   one address costs Redis nothing more.
 * - Redis unreachable: `consume` throws and the caller answers 503, like any
 *   other queue failure (a failed sync leaves the keys unread, so the next
 *   request of each asks Redis, and fails, within SYNC_MS).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { GroupCommit } from '../lib/group-commit.js';
import type { Redis } from '../queue/redis.js';

export interface RateLimitOptions {
  /** Redis key prefix (the queue prefix, so a hash tag like `{anon}` keeps the keys in one slot). */
  prefix: string;
  windowMs: number;
  /** Requests per window per client address; 0 = no limit. */
  perAddress: number;
  /** Requests per window per site; 0 = no limit. */
  perSite: number;
  /** HMAC key for client addresses; undefined → random for this process. */
  secret?: string;
  now?: () => number;
}

export type RateScope = 'address' | 'site';

export type RateDecision = { ok: true } | { ok: false; scope: RateScope; retryAfterSeconds: number };

// KEYS = counters, ARGV[1] = expiry in ms, ARGV[i + 1] = increment of KEYS[i]. Returns the new values.
const INCR_ALL = `
local out = {}
for i, key in ipairs(KEYS) do
  local by = tonumber(ARGV[i + 1])
  local n = redis.call('INCRBY', key, by)
  if n == by then redis.call('PEXPIRE', key, ARGV[1]) end
  out[i] = n
end
return out`;

/** EVALSHA of INCR_ALL: the script's text goes to Redis only when the node that holds the keys lacks it. */
const INCR_ALL_SHA = createHash('sha1').update(INCR_ALL).digest('hex');

const OK: RateDecision = { ok: true };
/** A flush carries at most this many requests; more arriving in one tick go in the next call. */
const MAX_GROUP = 1000;
/** Local counts go to Redis this often, and the keys in use are read again. */
export const RATE_LIMIT_SYNC_MS = 100;
/** A key read from Redis longer ago than this is counted in Redis again (see the header). */
const FRESH_MS = 2 * RATE_LIMIT_SYNC_MS;
/** A key counted by this process within this long is read again at each sync (see the header). */
const ACTIVE_MS = 10_000;
/** At most this many keys are read again per sync. */
const MAX_REFRESH = 2000;

/** What this process knows of one counter (one key, one window). */
interface Counter {
  /** The count in Redis at the last answer (every collector's requests, ours sent so far included). */
  known: number;
  /** This process's requests counted locally and not yet sent to Redis. */
  pending: number;
  /** This process's requests in a script call that has not answered yet. */
  inFlight: number;
  /** When `known` was read (0: never). */
  readAt: number;
  /** When this process last counted a request on it. */
  usedAt: number;
  windowEnd: number;
}

interface Check {
  id: string;
  key: string;
  scope: RateScope;
  limit: number;
}

/** One request's checks, waiting for its group's round trip. */
interface PendingRequest {
  checks: Check[];
  t: number;
  windowEnd: number;
}

export class RateLimiter {
  private readonly secret: Buffer;
  private readonly now: () => number;
  /** key → end of the window in which it went over its limit. */
  private readonly blocked = new LRUCache<string, number>({ max: 10_000 });
  /** Requests counted together: one commit is one script call, and says each request's decision. */
  private readonly groups: GroupCommit<PendingRequest, Map<PendingRequest, RateDecision>>;
  /** Redis key → this process's view of it, for the windows in use. */
  private readonly counters = new Map<string, Counter>();
  private readonly syncTimer: NodeJS.Timeout;
  private syncing: Promise<void> | undefined;
  /** Requests that waited for a Redis round trip (the others were counted locally). */
  requestsCountedInRedis = 0;

  constructor(
    private readonly redis: Pick<Redis, 'evalsha' | 'eval'>,
    private readonly opts: RateLimitOptions,
  ) {
    this.secret = opts.secret ? Buffer.from(opts.secret, 'utf8') : randomBytes(32);
    this.now = opts.now ?? Date.now;
    this.groups = new GroupCommit({
      // 0: everything that arrives in this turn of the event loop shares one round trip, without any extra delay.
      maxDelayMs: 0,
      maxSize: MAX_GROUP,
      commit: (requests) => this.countGroup(requests),
    });
    this.syncTimer = setInterval(() => void this.sync(), RATE_LIMIT_SYNC_MS);
    this.syncTimer.unref();
  }

  /** Stops the sync timer and pushes the local counts once more (best effort: Redis may be away). */
  async close(): Promise<void> {
    clearInterval(this.syncTimer);
    await this.syncing;
    await this.sync();
  }

  get enabled(): boolean {
    return this.opts.perAddress > 0 || this.opts.perSite > 0;
  }

  /**
   * Address hashes of recent clients: one HMAC per address and window instead of two per request. Held in
   * this process's memory only, for at most a minute (the addresses of requests in flight are there anyway).
   */
  private readonly addressKeys = new LRUCache<string, string>({ max: 10_000, ttl: 60_000 });

  /** The part of a Redis key that stands for a client address: a keyed hash, never the address. */
  addressKey(address: string): string {
    let key = this.addressKeys.get(address);
    if (key === undefined) {
      key = createHmac('sha256', this.secret).update(address).digest('base64url').slice(0, 22);
      this.addressKeys.set(address, key);
    }
    return key;
  }

  /** A refusal this process already knows about (no Redis round trip); undefined = ask `consume`. */
  knownBlocked(address: string, site?: string): RateDecision | undefined {
    return this.knownRefusal(this.addressId(address), site, this.now());
  }

  /** Counts one request of `address` for `site` and says whether it is within both limits. */
  consume(address: string, site: string): Promise<RateDecision> {
    if (!this.enabled) return Promise.resolve(OK);
    // The address's key and the clock once per request: both the known-refusal check and the count use them.
    const t = this.now();
    const addressId = this.addressId(address);
    const known = this.knownRefusal(addressId, site, t);
    if (known) return Promise.resolve(known);
    const window = Math.floor(t / this.opts.windowMs);
    const checks: Check[] = [];
    const check = (id: string, scope: RateScope, limit: number) => checks.push({ id, key: `${this.opts.prefix}:rl:${id}:${window}`, scope, limit });
    if (addressId !== undefined) check(addressId, 'address', this.opts.perAddress);
    if (this.opts.perSite > 0) check(`s:${site}`, 'site', this.opts.perSite);
    const windowEnd = (window + 1) * this.opts.windowMs;
    // Far from every limit, and read lately: counted here, pushed with the next sync.
    const counters = checks.map((c) => this.counter(c.key, windowEnd));
    for (const c of counters) c.usedAt = t;
    if (checks.every((c, i) => this.countsLocally(counters[i]!, c.limit, t))) {
      for (const c of counters) c.pending++;
      return Promise.resolve(OK);
    }
    this.requestsCountedInRedis++;
    const request: PendingRequest = { checks, t, windowEnd };
    return this.groups.add(request).then((decisions) => decisions.get(request)!);
  }

  /** The address's counter id (`a:` + its keyed hash); undefined when there is no per-address limit. */
  private addressId(address: string): string | undefined {
    return this.opts.perAddress > 0 ? `a:${this.addressKey(address)}` : undefined;
  }

  private knownRefusal(addressId: string | undefined, site: string | undefined, t: number): RateDecision | undefined {
    const d = addressId === undefined ? undefined : this.blockedUntil(addressId, t, 'address');
    if (d) return d;
    if (site !== undefined && this.opts.perSite > 0) return this.blockedUntil(`s:${site}`, t, 'site');
    return undefined;
  }

  private counter(key: string, windowEnd: number): Counter {
    let c = this.counters.get(key);
    if (!c) {
      c = { known: 0, pending: 0, inFlight: 0, readAt: 0, usedAt: 0, windowEnd };
      this.counters.set(key, c);
    }
    return c;
  }

  /** Read within FRESH_MS, and at most half the limit with one more request. */
  private countsLocally(c: Counter, limit: number, t: number): boolean {
    return c.readAt > 0 && t - c.readAt <= FRESH_MS && 2 * (c.known + c.pending + c.inFlight + 1) <= limit;
  }

  /**
   * Sends `by` (key → increment) in one script call and records what Redis answered; the increments are in
   * flight until then (counted, and not sent again by another call). Answers each key's new total.
   */
  private async push(by: Map<string, number>): Promise<Map<string, number>> {
    const keys = [...by.keys()];
    for (const k of keys) this.counters.get(k)!.inFlight += by.get(k)!;
    const landed = (k: string) => {
      const c = this.counters.get(k)!;
      c.inFlight -= by.get(k)!;
      return c;
    };
    let totals: unknown[];
    try {
      totals = await this.incr(keys, keys.map((k) => by.get(k)!), this.opts.windowMs + 1000);
    } catch (err) {
      for (const k of keys) landed(k);
      throw err;
    }
    const t = this.now();
    const out = new Map<string, number>();
    keys.forEach((k, i) => {
      const total = Number(totals[i]);
      out.set(k, total);
      const c = landed(k);
      // INCRBY only grows a counter: the largest answer is the latest.
      c.known = Math.max(c.known, total);
      c.readAt = t;
    });
    return out;
  }

  /**
   * Sends the local counts (one script call for every key that has some), reads again the keys in use (see the
   * header), and drops counters of past windows.
   */
  private async sync(): Promise<void> {
    if (this.syncing) return;
    const t = this.now();
    const by = new Map<string, number>();
    const active: [string, Counter][] = [];
    for (const [k, c] of this.counters) {
      if (c.pending > 0) {
        by.set(k, c.pending);
        c.pending = 0;
      } else if (c.windowEnd <= t) {
        if (c.inFlight === 0) this.counters.delete(k);
      } else if (c.inFlight === 0 && t - c.usedAt <= ACTIVE_MS) active.push([k, c]);
    }
    if (active.length > MAX_REFRESH) active.sort((a, b) => b[1].usedAt - a[1].usedAt);
    for (const [k] of active.slice(0, MAX_REFRESH)) by.set(k, 0);
    if (by.size === 0) return;
    this.syncing = this.push(by).then(
      () => {},
      () => {
        // Redis away: the counts go back to pending and the keys are not read again, so the next request of
        // each asks Redis itself (and is answered 503 if Redis is still away).
        for (const [k, n] of by) this.counter(k, t + this.opts.windowMs).pending += n;
      },
    );
    await this.syncing;
    this.syncing = undefined;
  }

  /** Counts a group of requests in one script call; when Redis fails, every request of the group fails. */
  private async countGroup(requests: PendingRequest[]): Promise<Map<PendingRequest, RateDecision>> {
    const increments = new Map<string, number>();
    for (const r of requests) for (const c of r.checks) increments.set(c.key, (increments.get(c.key) ?? 0) + 1);
    // Local counts of these keys go along: they were accepted earlier, so they count before this group. (On
    // failure they are lost with the group: Redis is away, and the requests that follow are refused anyway.)
    const by = new Map(increments);
    for (const r of requests) {
      for (const ch of r.checks) {
        const c = this.counter(ch.key, r.windowEnd);
        if (c.pending > 0) {
          by.set(ch.key, by.get(ch.key)! + c.pending);
          c.pending = 0;
        }
      }
    }
    const totals = await this.push(by);
    const keys = [...increments.keys()];
    // The count each request saw: what others had before the group, plus its place within the group (the
    // requests are in order of arrival).
    const counted = new Map(keys.map((k) => [k, totals.get(k)! - increments.get(k)!]));
    const decisions = new Map<PendingRequest, RateDecision>();
    for (const r of requests) {
      const counts = r.checks.map((c) => {
        const count = counted.get(c.key)! + 1;
        counted.set(c.key, count);
        return count;
      });
      decisions.set(r, this.decide(r, counts));
    }
    return decisions;
  }

  /** `counts[i]` is the count of `r.checks[i]`, this request included. */
  private decide(r: PendingRequest, counts: number[]): RateDecision {
    for (const [i, c] of r.checks.entries()) {
      if (counts[i]! > c.limit) {
        this.blocked.set(c.id, r.windowEnd);
        return { ok: false, scope: c.scope, retryAfterSeconds: retryAfter(r.windowEnd, r.t) };
      }
    }
    return OK;
  }

  private blockedUntil(id: string, t: number, scope: RateScope): RateDecision | undefined {
    const until = this.blocked.get(id);
    if (until === undefined) return undefined;
    if (until <= t) {
      this.blocked.delete(id);
      return undefined;
    }
    return { ok: false, scope, retryAfterSeconds: retryAfter(until, t) };
  }

  private async incr(keys: string[], increments: number[], expireMs: number): Promise<unknown[]> {
    try {
      return (await this.redis.evalsha(INCR_ALL_SHA, keys.length, ...keys, expireMs, ...increments)) as unknown[];
    } catch (err) {
      // Not cached on that node (first use, a Redis restart, SCRIPT FLUSH). EVAL, not SCRIPT LOAD: in a Redis
      // Cluster a keyless SCRIPT LOAD goes to any node, EVAL goes with its keys to the node that holds their
      // slot and caches the script there.
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
    }
    return (await this.redis.eval(INCR_ALL, keys.length, ...keys, expireMs, ...increments)) as unknown[];
  }
}

function retryAfter(windowEnd: number, now: number): number {
  return Math.max(1, Math.ceil((windowEnd - now) / 1000));
}
