import type { Redis } from 'ioredis';

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
