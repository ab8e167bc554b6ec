import { randomBytes } from 'node:crypto';
import { Redis as IORedis, type Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** Every key under a prefix with its whole value, as text (for canary scans). */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await redis.type(k);
      let v: unknown;
      if (type === 'string') v = await redis.get(k);
      else if (type === 'hash') v = await redis.hgetall(k);
      else if (type === 'list') v = await redis.lrange(k, 0, -1);
      else if (type === 'set') v = await redis.smembers(k);
      else if (type === 'zset') v = await redis.zrange(k, 0, -1, 'WITHSCORES');
      else if (type === 'stream') v = await redis.xrange(k, '-', '+');
      out.push(`${k} ${type} ${JSON.stringify(v)}`);
    }
  } while (cursor !== '0');
  return out.join('\n');
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * A test file's Redis on REDIS_URL under a random prefix of its own: connected before the file's tests, every key
 * under the prefix deleted and the connection closed after them.
 */
export function useTestRedis(name: string): { readonly prefix: string; readonly redis: Redis } {
  const prefix = `t${name}${randomBytes(6).toString('hex')}`;
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    if (!redis) return;
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });
  return {
    prefix,
    get redis() {
      if (!redis) throw new Error('useTestRedis: Redis is connected in beforeAll');
      return redis;
    },
  };
}
