/**
 * Leases with fencing tokens, in Redis: how a housekeeping job (the daily
 * rollup, dead-letter expiry, an AOF rewrite) runs in one process of the
 * deployment at a time, however many collectors and workers there are.
 *
 * Design note:
 * - Acquire: `SET lease` only when no one holds it, with an expiry (`ttlMs`),
 *   so a holder that dies frees it by itself. Each acquisition takes a token
 *   from `INCR fence`: tokens only grow, so a later holder always has a
 *   larger one than every earlier holder.
 * - A holder can stall past its expiry (a long GC pause, a starved CPU, a
 *   network partition) and wake up believing it still holds the lease while
 *   a newer holder works. So the work never trusts the lease it was given:
 *   before each step, `Fence.check()` asks Redis, in one script, whether the
 *   lease still carries this holder's token (a stale holder stops at its next
 *   step), and recording a finished run (`complete`) is done by a script that
 *   checks the token in the same step. What remains is one step in flight
 *   when the stall happened; each housekeeping step is idempotent (a rollup
 *   of a day replaces its rows, a dead letter deleted twice is deleted once),
 *   so that costs duplicate work, never wrong data.
 * - Every key starts with the queue prefix, so in a Redis Cluster (hash-tagged
 *   prefix) a script's keys are in one slot.
 *
 * Keys, per lease name: `<prefix>:hk:<name>:lease` ("<token>:<owner>", with
 * expiry), `:fence` (the last token issued) and `:done` (when the last run
 * finished, ms since epoch). None holds anything about visitors.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from './redis.js';

// KEYS: lease, fence. ARGV: owner, ttl ms. The new token, or 0 when someone holds the lease.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token`;

// KEYS: lease. ARGV: value, ttl ms (0 = only check). 1 while the lease is still this value, else 0.
const HOLDS = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

// KEYS: lease, done. ARGV: value, now ms. Records the finished run only for the holder of the lease.
const COMPLETE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

// KEYS: lease. ARGV: value.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The lease was taken over (it expired while its holder stalled): the holder must stop. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly lease: string,
    readonly token: number,
  ) {
    super(`housekeeping lease "${lease}" (token ${token}) is no longer held: another process took it over; stopping`);
  }
}

/** What a holder passes to its work: its token, and the check to run before each step. */
export interface Fence {
  readonly token: number;
  /** Throws LeaseLostError unless this holder still holds the lease (asked of Redis, not remembered). */
  check(): Promise<void>;
}

export interface HeldLease extends Fence {
  /** Extends the expiry; false when the lease was lost. */
  renew(): Promise<boolean>;
  /** Records that the run finished (only if still held); false when the lease was lost. */
  complete(now: number): Promise<boolean>;
  release(): Promise<void>;
}

export class Leases {
  /** This process, as lease holders are told apart (random: nothing about the host). */
  readonly owner = `${process.pid}-${randomBytes(6).toString('hex')}`;

  constructor(
    private readonly redis: Pick<Redis, 'eval' | 'get'>,
    private readonly prefix: string,
  ) {}

  private key(name: string, part: 'lease' | 'fence' | 'done'): string {
    return `${this.prefix}:hk:${name}:${part}`;
  }

  /** When the last run of `name` finished (ms since epoch; 0 = never). */
  async lastDone(name: string): Promise<number> {
    return Number((await this.redis.get(this.key(name, 'done'))) ?? 0);
  }

  /** Takes the lease `name` for `ttlMs` unless someone holds it; undefined when someone does. */
  async acquire(name: string, ttlMs: number): Promise<HeldLease | undefined> {
    const [lease, fence, done] = [this.key(name, 'lease'), this.key(name, 'fence'), this.key(name, 'done')];
    const token = Number(await this.redis.eval(ACQUIRE, 2, lease, fence, this.owner, String(ttlMs)));
    if (!token) return undefined;
    const value = `${token}:${this.owner}`;
    const holds = async (extendMs: number) => Number(await this.redis.eval(HOLDS, 1, lease, value, String(extendMs))) === 1;
    return {
      token,
      async check() {
        if (!(await holds(0))) throw new LeaseLostError(name, token);
      },
      renew: () => holds(ttlMs),
      complete: async (now) => Number(await this.redis.eval(COMPLETE, 2, lease, done, value, String(now))) === 1,
      release: async () => {
        await this.redis.eval(RELEASE, 1, lease, value);
      },
    };
  }
}
