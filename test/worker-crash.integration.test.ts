/**
 * The worker killed with SIGKILL mid-batch and restarted: every event the
 * collector acknowledged with 202 is in ClickHouse exactly once.
 * Real processes (`npm run collector`, `npm run worker` entries), real Redis,
 * the embedded ClickHouse owned by the worker and read through its /query.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA, mixedBatch, randomId } from './support/builders.js';
import { REDIS_URL } from './support/pipeline.js';
import { deleteKeys } from './support/redis-keys.js';
import { tempDir } from './support/tmp.js';
import { freePort } from './support/redis-server.js';
import { startProcess, type Proc } from './support/process.js';

const dataDir = tempDir('crash');
const prefix = `t${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
let env: Record<string, string>;
let collector: Proc;
let worker: Proc | undefined;
let workerUrl: string;

beforeAll(async () => {
  const [port, workerPort] = [await freePort(), await freePort()];
  env = {
    REDIS_URL,
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    HOST: '127.0.0.1',
    INSERT_FLUSH_MS: '400',
    JOB_LOCK_MS: '2000',
    RETRY_MAX_BACKOFF_MS: '1000',
    LOG_LEVEL: 'info',
  };
  workerUrl = `http://127.0.0.1:${workerPort}`;
  // The collector first: it generates the development sealing keys the worker then reads.
  collector = await startProcess('src/app/collector-main.ts', env, `http://127.0.0.1:${port}/healthz`);
}, 120_000);

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await collector?.stop('SIGTERM');
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, prefix);
  redis.disconnect();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function adminQuery(sql: string): Promise<Record<string, string>> {
  const { admin } = JSON.parse(fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8')) as { admin: string };
  const res = await fetch(`${workerUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` }, body: sql });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return JSON.parse((await res.text()).trim()) as Record<string, string>;
}

/** Restarts the worker and reads the count straight away (before the backlog is drained). */
async function adminQueryWhenUp(): Promise<Record<string, string>> {
  worker = await startProcess('workers/anonymiser.ts', env, `${workerUrl}/healthz`);
  return adminQuery('SELECT count() AS n FROM events');
}

describe('worker killed with SIGKILL mid-batch', () => {
  it('keeps every acknowledged event exactly once after restart', async () => {
    worker = await startProcess('workers/anonymiser.ts', env, `${workerUrl}/healthz`);
    let acknowledged = 0;
    const send = async () => {
      const res = await fetch(`${collector.baseUrl}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA }, body: JSON.stringify(mixedBatch(10)) });
      if (res.status === 202) acknowledged += ((await res.json()) as { accepted: number }).accepted;
    };
    // Load while the worker runs; kill it in the middle, while rows are buffered and inserts in flight;
    // the collector keeps accepting while no worker runs.
    for (let i = 0; i < 40; i++) {
      await Promise.all(Array.from({ length: 5 }, send));
      if (i === 20) await worker.stop('SIGKILL');
    }
    expect(acknowledged).toBe(2000);
    expect(Number((await adminQueryWhenUp()).n)).toBeLessThan(2000);

    await expect
      .poll(async () => Number((await adminQuery('SELECT count() AS n FROM events')).n), { timeout: 60_000, interval: 500 })
      .toBeGreaterThanOrEqual(acknowledged);
    // Let any straggling redelivery land before judging duplicates.
    await new Promise((r) => setTimeout(r, 3000));
    const r = await adminQuery('SELECT count() AS n, uniqExact(event_id) AS u FROM events');
    expect(Number(r.u)).toBe(acknowledged);
    expect(Number(r.n)).toBe(acknowledged);
  }, 180_000);
});
