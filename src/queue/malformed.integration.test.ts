/**
 * The malformed-job sweeper on real Redis, as someone who can write to Redis
 * would use it: a job hash whose data or options are not JSON, in `active` or
 * at the head of `wait`. It is removed (every key of it) once it has stayed
 * put across STAYED_SWEEPS sweeps in a row; a job that moves on before that is
 * never read, and
 * a well-formed job that stays is read and kept.
 */
import type { Redis } from 'ioredis';
import { useTestRedis } from '../../test/support/redis-keys.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { MalformedJobSweeper, STAYED_SWEEPS } from './malformed.js';

const t = useTestRedis('malformed');
const prefix = t.prefix;
const base = `${prefix}:events`;
let redis: Redis;

beforeAll(() => {
  redis = t.redis;
});

/** Sweeps `n` times; every sweep but the last must find nothing. */
async function sweepTimes(sweeper: MalformedJobSweeper, n: number) {
  for (let i = 1; i < n; i++) expect(await sweeper.sweep()).toEqual([]);
  return sweeper.sweep();
}

async function job(id: string, data: string, opts = '{}'): Promise<void> {
  await redis.hset(`${base}:${id}`, 'data', data, 'opts', opts, 'name', 'collected');
  await redis.set(`${base}:${id}:lock`, 'token');
}

describe('MalformedJobSweeper', () => {
  it('removes a job that stays in active or at the head of wait with data or options that are not JSON, and keeps a well-formed one', async () => {
    const sweeper = new MalformedJobSweeper(redis, 'events', prefix);
    await job('1', '{"not json');
    await job('2', '{"s":"x","n":1}', '{"attempts": [');
    await job('3', '{"s":"x","n":1}');
    await redis.lpush(`${base}:active`, '1', '3');
    await redis.lpush(`${base}:wait`, '2');

    // Until they have stayed put for STAYED_SWEEPS sweeps, nothing is read.
    expect(await sweepTimes(sweeper, STAYED_SWEEPS - 1)).toEqual([]);
    expect(await redis.exists(`${base}:1`)).toBe(1);

    const bad = await sweeper.sweep();
    expect(bad.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: '1', field: 'data' },
      { id: '2', field: 'opts' },
    ]);
    for (const id of ['1', '2']) {
      expect(await redis.exists(`${base}:${id}`, `${base}:${id}:lock`)).toBe(0);
    }
    expect(await redis.lrange(`${base}:active`, 0, -1)).toEqual(['3']);
    expect(await redis.lrange(`${base}:wait`, 0, -1)).toEqual([]);
    // The well-formed job stays, with its lock.
    expect(await redis.exists(`${base}:3`, `${base}:3:lock`)).toBe(2);
    await redis.del(`${base}:active`, `${base}:3`, `${base}:3:lock`);
  });

  it('does not read a job that moved on before it stayed put', async () => {
    const sweeper = new MalformedJobSweeper(redis, 'events', prefix);
    await job('10', '{"s":"x","n":1}');
    await redis.lpush(`${base}:active`, '10');
    expect(await sweepTimes(sweeper, STAYED_SWEEPS - 1)).toEqual([]);
    // Finished and gone from active; another job took its place. Its hash (left behind here, unparseable) is not
    // read: only ids seen by STAYED_SWEEPS sweeps in a row are.
    await redis.lrem(`${base}:active`, 0, '10');
    await redis.hset(`${base}:10`, 'data', '{"not json');
    await job('11', '{"not json');
    await redis.lpush(`${base}:active`, '11');
    expect(await sweepTimes(sweeper, STAYED_SWEEPS - 1)).toEqual([]);
    expect(await redis.exists(`${base}:10`, `${base}:11`)).toBe(2);
    // The new one stayed: the next sweep removes it.
    expect(await sweeper.sweep()).toEqual([{ id: '11', field: 'data' }]);
    expect(await redis.exists(`${base}:11`)).toBe(0);
  });
});
