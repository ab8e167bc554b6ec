/**
 * The Redis side of the daily salts, on real Redis: SET NX makes one salt per
 * day for the whole deployment, it expires (PXAT) at most 48 h after it was
 * created, and it is the only key a salt is written to.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { useTestRedis } from '../../test/support/redis-keys.js';
import { RedisSaltStore } from './salt-store.js';
import { SaltRing, saltExpiry } from '../anonymise/salts.js';

const t = useTestRedis('salt');
const prefix = t.prefix;
let redis: Redis;

beforeAll(() => {
  redis = t.redis;
});

describe('RedisSaltStore', () => {
  it('stores one 32-byte salt per day for every worker (SET NX), expiring within 48 h', async () => {
    const now = Date.now();
    const expireAt = saltExpiry(now);
    const a = new RedisSaltStore(redis, prefix);
    const other = redis.duplicate();
    const b = new RedisSaltStore(other, prefix);
    try {
      const [sa, sb] = await Promise.all([a.getOrCreate('2026-11-25', randomBytes(32), expireAt), b.getOrCreate('2026-11-25', randomBytes(32), expireAt)]);
      expect(sa.length).toBe(32);
      expect(sb.equals(sa)).toBe(true);
      const pttl = await redis.pttl(`${prefix}:salt:2026-11-25`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(48 * 3_600_000);
      expect(await redis.keys(`${prefix}:*`)).toEqual([`${prefix}:salt:2026-11-25`]);
    } finally {
      other.disconnect();
    }
  });

  it('two rings on one Redis hash a visitor to the same id (salts shared through Redis)', async () => {
    const secret = randomBytes(32);
    const r1 = new SaltRing(new RedisSaltStore(redis, prefix), secret);
    const r2 = new SaltRing(new RedisSaltStore(redis, prefix), secret);
    const now = Date.now();
    const [s1, s2] = await Promise.all([r1.saltFor(now), r2.saltFor(now)]);
    expect(s1.salt.equals(s2.salt)).toBe(true);
    expect(s1.late).toBe(false);
  });

  it('refuses a malformed stored salt instead of hashing with it', async () => {
    await redis.set(`${prefix}:salt:1999-01-01`, 'short', 'PX', 60_000);
    await expect(new RedisSaltStore(redis, prefix).getOrCreate('1999-01-01', randomBytes(32), Date.now() + 60_000)).rejects.toThrow(/malformed/);
  });
});
