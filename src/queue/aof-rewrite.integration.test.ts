/**
 * Redis persistence housekeeping (issue 12, item 6), on a private redis-server
 * with AOF on: an expired day salt is still in the AOF files (what an admin
 * with a copy of them holds); after the daily BGREWRITEAOF it is not, while
 * the live salt still is. Once a day only; nothing when AOF is off.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableRedis } from '../../test/support/durable-redis.js';
import { freePort } from '../../test/support/redis-server.js';
import { aofHousekeeping } from './aof-rewrite.js';
import { RedisSaltStore } from './salt-store.js';

let server: DurableRedis;
let redis: Redis;

beforeAll(async () => {
  server = new DurableRedis(await freePort());
  await server.start();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.remove();
});

/** Every byte Redis has written to its AOF files (Redis 7: appendonlydir/, base and incremental files). */
function aofBytes(): Buffer {
  const dir = path.join(server.dir, 'appendonlydir');
  return Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
}

const rewriteDone = async () => {
  for (let i = 0; i < 200; i++) {
    const info = await redis.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && !/aof_rewrite_scheduled:1/.test(info)) return info;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('AOF rewrite did not finish');
};

describe('AOF rewrite after the salts expire', () => {
  it('leaves no expired salt in the AOF files, and keeps the live one', async () => {
    const salts = new RedisSaltStore(redis, 'hk');
    const expired = randomBytes(32);
    const live = randomBytes(32);
    await salts.getOrCreate('2026-11-29', expired, Date.now() + 200);
    await salts.getOrCreate('2026-12-01', live, Date.now() + 3_600_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await redis.getBuffer('hk:salt:2026-11-29')).toBeNull();
    // Gone from memory, still in the log: a copy of the AOF still gives the salt away.
    expect(aofBytes().includes(expired)).toBe(true);

    const hk = aofHousekeeping(redis, 'hk');
    expect(await hk.run()).toBe('rewritten');
    expect(await rewriteDone()).toMatch(/aof_last_bgrewrite_status:ok/);
    const after = aofBytes();
    expect(after.includes(expired)).toBe(false);
    expect(after.includes(live)).toBe(true);
    // Once a day, whichever worker asks first.
    expect(await hk.run()).toBe('done_today');
    expect(await aofHousekeeping(redis, 'hk').run()).toBe('done_today');
    // The next day, again.
    expect(await aofHousekeeping(redis, 'hk', () => Date.now() + 86_400_000).run()).toBe('rewritten');
    await rewriteDone();
  });

  it('does nothing when AOF is off', async () => {
    await redis.config('SET', 'appendonly', 'no');
    try {
      expect(await aofHousekeeping(redis, 'hk2').run()).toBe('aof_off');
      expect(await redis.exists('hk2:aof-rewrite:' + new Date().toISOString().slice(0, 10))).toBe(0);
    } finally {
      await redis.config('SET', 'appendonly', 'yes');
    }
  });
});
