/**
 * Redis connections. Collectors must fail fast when Redis is away (no offline
 * queue: a request either reaches Redis or gets a 503 at once); workers must
 * wait and reconnect forever (BullMQ wants maxRetriesPerRequest: null).
 */
import { Redis, type RedisOptions } from 'ioredis';

export type { Redis };

export function producerConnection(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  } satisfies RedisOptions);
}

export function workerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  } satisfies RedisOptions);
}

export class RedisPolicyError extends Error {
  override readonly name = 'RedisPolicyError';
}

/** Waits until a fresh connection is ready, failing with a clear message after `timeoutMs`. */
export async function waitReady(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms: is it running? (set REDIS_URL)`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Refuses an evicting Redis: with an LRU/LFU/random policy, Redis may delete
 * waiting jobs under memory pressure, which would silently lose events that
 * were already acknowledged with 202.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const m = /maxmemory_policy:(\S+)/.exec(info);
  const policy = m?.[1] ?? 'unknown';
  if (policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy}"; it must be "noeviction" or acknowledged events could be evicted (run: redis-cli CONFIG SET maxmemory-policy noeviction)`,
    );
  }
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
