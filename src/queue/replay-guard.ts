/**
 * Replay guard: a sealed job is taken once. Anyone who can write to Redis can
 * copy a waiting job's sealed data (from the queue, the dead-letter queue, an
 * AOF/RDB file or a backup) into new jobs; the copies open fine, so without
 * this guard each would be stored again and counted again in the aggregates.
 *
 * A job is named by a hash of its sealed bytes, which a copy cannot change
 * without breaking the seal. The first job id to claim a name owns it: that
 * job's own redeliveries (a retry, a worker killed holding it, a dead letter
 * retried) claim it again and go on; any other job id is a replay.
 *
 * Names are kept in one Redis hash per hour of receive time, expiring
 * JOB_MAX_AGE_HOURS after that hour: older jobs are refused as expired
 * anyway (src/wire/collected.ts), so forgetting them loses nothing. Cost:
 * about 60 bytes of Redis memory per job for JOB_MAX_AGE_HOURS.
 *
 * What it cannot stop: someone who can write to Redis can also delete these
 * hashes and then replay (docs/operations.md: what an attacker with Redis
 * write access can and cannot do). Events themselves stay exactly once
 * (ReplacingMergeTree on the event id), the aggregates would not.
 */
import { createHash } from 'node:crypto';
import type { Redis } from './redis.js';

const HOUR_MS = 3_600_000;

// KEYS[1] the hour's hash; ARGV: name, job id, expiry (ms since epoch).
// 1 = first claim, 2 = the same job again, 0 = claimed by another job (a replay).
const CLAIM = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  return 1
end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 2 end
return 0
`;

export type Claim = 'first' | 'again' | 'replay';

export class ReplayGuard {
  constructor(
    private readonly redis: Pick<Redis, 'eval'>,
    private readonly prefix: string,
    private readonly maxAgeMs: number,
  ) {}

  /** Claims the sealed job `sealed` (its base64 envelope) for `jobId`; `receivedAt` is its earliest receive time. */
  async claim(sealed: string, jobId: string, receivedAt: number): Promise<Claim> {
    const hour = Math.floor(receivedAt / HOUR_MS);
    const name = createHash('sha256').update(sealed).digest('base64url').slice(0, 22);
    const r = await this.redis.eval(CLAIM, 1, `${this.prefix}:seen:${hour}`, name, jobId, String((hour + 1) * HOUR_MS + this.maxAgeMs));
    return r === 1 ? 'first' : r === 2 ? 'again' : 'replay';
  }
}
