/**
 * Redis connections, to one server or to a Redis Cluster (REDIS_URL
 * `redis+cluster://host:port,…`, parsed by src/config/config.ts).
 *
 * Collectors must fail fast when Redis is away (no offline queue: a request
 * either reaches Redis or gets a 503 at once); workers must wait and
 * reconnect forever (BullMQ wants maxRetriesPerRequest: null).
 *
 * A cluster works because every key of the pipeline starts with QUEUE_PREFIX
 * and, in cluster mode, the prefix holds a hash tag (`{anon}` by default; the
 * configuration refuses one without): the queue, its jobs, the salts, the
 * rate-limit counters, the replay guard and the housekeeping leases all live
 * in one slot, so every BullMQ script, every script of ours and every
 * pipeline/MULTI sees its keys on one node. That node is one primary's worth
 * of throughput (docs/scaling.md says how far that goes and what to do past
 * it); the cluster gives failover and room for everything else on it.
 */
import { Cluster, Redis as SingleRedis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisCluster } from '../config/config.js';

/** A connection to one Redis server or to a Redis Cluster: everything in src/queue works with either. */
export type Redis = SingleRedis | Cluster;

/** Where Redis is: a redis:// URL, or the configuration's `redis` slice (which may name a cluster). */
export type RedisTarget = string | { readonly url: string; readonly cluster?: RedisCluster | undefined };

const urlOf = (t: RedisTarget) => (typeof t === 'string' ? t : t.url);
const clusterOf = (t: RedisTarget) => (typeof t === 'string' ? undefined : t.cluster);

function connect(target: RedisTarget, node: RedisOptions, cluster: Omit<ClusterOptions, 'redisOptions'>): Redis {
  const c = clusterOf(target);
  if (!c) return new SingleRedis(urlOf(target), node);
  return new Cluster(
    c.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      ...cluster,
      redisOptions: { ...node, username: c.username, password: c.password, ...(c.tls ? { tls: {} } : {}) },
      // Keys are routed by slot to their primary; reads go there too (a replica may lag behind a job's write).
      scaleReads: 'master',
      slotsRefreshTimeout: 2000,
    },
  );
}

export function producerConnection(target: RedisTarget): Redis {
  const retry = (times: number) => Math.min(50 * times, 1000);
  return connect(
    target,
    { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: false, retryStrategy: retry },
    // A cluster keeps its own offline queue: off as well, so a request never waits for a node that is away.
    { enableOfflineQueue: false, clusterRetryStrategy: retry },
  );
}

export function workerConnection(target: RedisTarget): Redis {
  const retry = (times: number) => Math.min(100 * times, 2000);
  return connect(
    target,
    { maxRetriesPerRequest: null, enableAutoPipelining: false, connectTimeout: 5000, retryStrategy: retry },
    { enableAutoPipelining: false, clusterRetryStrategy: retry },
  );
}

/** True for a Redis Cluster connection. */
export function isCluster(redis: Redis): redis is Cluster {
  return redis instanceof Cluster;
}

export class RedisPolicyError extends Error {
  override readonly name = 'RedisPolicyError';
}

/** Waits until a fresh connection is ready, failing with a clear message after `timeoutMs`. */
export async function waitReady(redis: Redis, target: RedisTarget, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  const what = clusterOf(target) ? 'The Redis Cluster' : 'Redis';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} at ${redactUrl(urlOf(target))} did not answer within ${timeoutMs} ms: is it running? (set REDIS_URL)`));
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
 * were already acknowledged with 202. In a cluster, every primary is asked.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    const info = await node.info('memory');
    const m = /maxmemory_policy:(\S+)/.exec(info);
    const policy = m?.[1] ?? 'unknown';
    if (policy !== 'noeviction') {
      const where = isCluster(redis) ? ` on the cluster node ${node.options.host}:${node.options.port}` : '';
      throw new RedisPolicyError(
        `Redis maxmemory-policy is "${policy}"${where}; it must be "noeviction" or acknowledged events could be evicted (run: redis-cli CONFIG SET maxmemory-policy noeviction)`,
      );
    }
  }
}

/** A Redis URL (one server or a cluster) without its password, for messages. */
export function redactUrl(url: string): string {
  if (/^rediss?\+cluster:/i.test(url)) return url.replace(/(:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
