/**
 * Redis unreachable: the collector answers 503 with Retry-After at once (no
 * offline queue, never a hanging request) and recovers when Redis returns.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { startCollector, type Collector } from '../src/app/collector.js';
import { createLogger } from '../src/observe/logger.js';
import { createMetrics } from '../src/observe/metrics.js';
import { batch, EventBuilder } from './support/builders.js';
import { tempDir } from './support/tmp.js';
import { freePort, OwnRedis } from './support/redis-server.js';

let redis: OwnRedis;
let collector: Collector;
const dataDir = tempDir('outage');

beforeAll(async () => {
  redis = new OwnRedis(await freePort());
  await redis.start();
  const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
  collector = await startCollector(config, { log: createLogger('silent', 'test'), metrics: createMetrics() });
});
afterAll(async () => {
  await collector?.close();
  await redis?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const send = () =>
  fetch(`${collector.url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(batch([EventBuilder.pageview()])) });

describe('Redis outage', () => {
  it('202 while Redis is up', async () => {
    expect((await send()).status).toBe(202);
  });

  it('503 + Retry-After within a fraction of a second while Redis is down, then recovers', async () => {
    await redis.stop();
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await send();
      const ms = performance.now() - t0;
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await res.json()) as { error: string }).error).toMatch(/retry later/);
      expect(ms).toBeLessThan(1000); // a behaviour bound (never hang), not a benchmark
    }
    const ready = await fetch(`${collector.url}/readyz`);
    expect(ready.status).toBe(503);

    await redis.start();
    await expect.poll(async () => (await send()).status, { timeout: 10_000, interval: 200 }).toBe(202);
  });
});
