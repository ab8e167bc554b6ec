/**
 * The replay guard on real Redis: the first job id to claim a sealed job owns
 * it; its own redeliveries go on; any other id is a replay; the memory of it
 * expires JOB_MAX_AGE_HOURS after its hour; concurrent claims have one winner.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { useTestRedis } from '../../test/support/redis-keys.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReplayGuard } from './replay-guard.js';

const t = useTestRedis('replay');
const prefix = t.prefix;
const HOUR = 3_600_000;
let redis: Redis;

beforeAll(() => {
  redis = t.redis;
});

describe('ReplayGuard', () => {
  const maxAgeMs = 72 * HOUR;
  const sealed = () => randomBytes(120).toString('base64');

  it('first claim, the same job again, another job id is a replay', async () => {
    const g = new ReplayGuard(redis, prefix, maxAgeMs);
    const s = sealed();
    const at = Date.now();
    expect(await g.claim(s, '17', at)).toBe('first');
    expect(await g.claim(s, '17', at)).toBe('again');
    expect(await g.claim(s, '18', at)).toBe('replay');
    // Another sealed job is its own.
    expect(await g.claim(sealed(), '18', at)).toBe('first');
  });

  it('keeps what it remembers for the job age window after the hour of receipt, and nothing readable', async () => {
    const g = new ReplayGuard(redis, prefix, maxAgeMs);
    const at = Date.now();
    const s = sealed();
    await g.claim(s, '99', at);
    const key = `${prefix}:seen:${Math.floor(at / HOUR)}`;
    const expireAt = await redis.pexpiretime(key);
    expect(expireAt).toBe((Math.floor(at / HOUR) + 1) * HOUR + maxAgeMs);
    const fields = await redis.hkeys(key);
    // A short hash of the envelope, never the envelope.
    for (const f of fields) expect(f).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(await redis.hgetall(key))).not.toContain(s.slice(0, 30));
  });

  it('concurrent claims of one sealed job by different ids: exactly one wins', async () => {
    const g = new ReplayGuard(redis, prefix, maxAgeMs);
    const s = sealed();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => g.claim(s, `job${i}`, Date.now())));
    expect(results.filter((r) => r === 'first')).toHaveLength(1);
    expect(results.filter((r) => r === 'replay')).toHaveLength(19);
  });
});
