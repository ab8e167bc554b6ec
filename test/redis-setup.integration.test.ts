/**
 * What the processes demand of Redis at start: a policy that never evicts
 * (an evicted job is an acknowledged event lost), and the database index of
 * REDIS_URL honoured. A private redis-server, so the shared one is untouched.
 */
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { startCollector } from '../src/app/collector.js';
import { startWorker } from '../src/app/worker.js';
import { createLogger } from '../src/observe/logger.js';
import { createMetrics } from '../src/observe/metrics.js';
import { openStore } from '../src/store/client.js';
import { batch, BROWSER_UA, EventBuilder } from './support/builders.js';
import { tempDir } from './support/tmp.js';
import { freePort, OwnRedis } from './support/redis-server.js';

let redis: OwnRedis;
let admin: Redis;
const dataDir = tempDir('redis-setup');
const log = createLogger('silent', 'test');

beforeAll(async () => {
  redis = new OwnRedis(await freePort());
  await redis.start();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const config = (db = 0) => loadConfig({ REDIS_URL: `${redis.url}/${db}`, DATA_DIR: dataDir, PORT: '0', WORKER_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });

describe('Redis at start', () => {
  it('refuses an evicting maxmemory-policy, in the collector and in the worker, saying how to fix it', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const store = await openStore(config().store);
    try {
      await expect(startCollector(config(), { log, metrics: createMetrics() })).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
      await expect(startWorker(config(), { log, metrics: createMetrics(), store })).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await store.close();
    }
  });

  it('keeps its jobs in the database REDIS_URL names', async () => {
    const collector = await startCollector(config(3), { log, metrics: createMetrics() });
    try {
      const res = await fetch(`${collector.url}/collect`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA },
        body: JSON.stringify(batch([EventBuilder.pageview()])),
      });
      expect(res.status).toBe(202);
    } finally {
      await collector.close();
    }
    const db3 = new Redis(`${redis.url}/3`);
    try {
      expect((await db3.keys('*')).some((k) => k.includes(':events:'))).toBe(true);
      expect((await admin.keys('*')).filter((k) => k.includes(':events:'))).toEqual([]);
    } finally {
      db3.disconnect();
    }
  });
});
