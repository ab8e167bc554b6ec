/**
 * The insert deduplication token is keyed on each job's random nonce, never
 * on its BullMQ id. Ids restart when Redis loses its data (no persistence, or
 * the last second of an everysec AOF) and repeat across QUEUE_PREFIX /
 * QUEUE_NAME pairs writing one table, and ClickHouse
 * (non_replicated_deduplication_window) silently drops an insert whose token
 * it has seen, whatever its rows. Here Redis loses everything between two
 * jobs, so the second gets the first's id: both must land. A true repeat (same
 * job, same rows) is still deduplicated.
 * Real collector-side producer and Redis, the real job processor, the embedded
 * ClickHouse.
 */
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceParser } from '../../src/anonymise/device.js';
import { SaltRing } from '../../src/anonymise/salts.js';
import { anonymiseConfig, anonymiseStep, jobAdmission } from '../../src/app/worker.js';
import { loadConfig } from '../../src/config/config.js';
import { createMetrics } from '../../src/observe/metrics.js';
import type { QueuedJob } from '../../src/queue/consumer.js';
import type { SealedJobData } from '../../src/queue/job.js';
import { JobProducer } from '../../src/queue/producer.js';
import { producerConnection, waitReady } from '../../src/queue/redis.js';
import { RedisSaltStore } from '../../src/queue/salt-store.js';
import { workerIdSecret } from '../../src/queue/keys.js';
import { generateSealKeyPair, Sealer, Unsealer } from '../../src/queue/seal.js';
import { openStore, type Store } from '../../src/store/client.js';
import { EventInserter } from '../../src/store/inserter.js';
import { migrate, migrationVars } from '../../src/store/migrate.js';
import { createJobProcessor } from '../../src/ingest/anonymise-job.js';
import { BROWSER_UA, mixedBatch, randomId } from '../support/builders.js';
import { REDIS_URL } from '../support/pipeline.js';
import { deleteKeys } from '../support/redis-keys.js';
import { tempDir } from '../support/tmp.js';

const dir = tempDir('insert-dedup');
const prefix = `t${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
const config = loadConfig({ DATA_DIR: dir, QUEUE_PREFIX: prefix, REDIS_URL });
const keys = generateSealKeyPair();
let store: Store;
let redis: Redis;
let producer: JobProducer;

beforeAll(async () => {
  store = await openStore(config.store);
  await migrate(store.client, migrationVars(config.store));
  redis = new Redis(REDIS_URL);
  const conn = producerConnection(REDIS_URL);
  await waitReady(conn, REDIS_URL);
  producer = new JobProducer(conn, new Sealer(keys.publicKey), {
    queueName: config.redis.queueName,
    prefix,
    groupCommitMs: 0,
    groupCommitMaxEvents: 1000,
    highWater: 1_000_000,
    attempts: 3,
  });
});

afterAll(async () => {
  await producer?.close();
  await deleteKeys(redis, prefix);
  redis?.disconnect();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One request through the real producer; the job as Redis holds it. */
async function collect(events: number): Promise<{ id: string; data: SealedJobData }> {
  const body = mixedBatch(events);
  await producer.submit({ ctx: { site: body.site, ip: '198.51.100.7', userAgent: BROWSER_UA, receivedAt: Date.now() }, events: body.events });
  const [job] = await producer.queue.getJobs(['wait'], 0, 0);
  return { id: job!.id!, data: job!.data };
}

const stored = async () => {
  const rs = await store.client.query({ query: 'SELECT count() AS n FROM events', format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
};

describe('insert deduplication token', () => {
  it('two different jobs with the same BullMQ id (Redis lost its data in between) both land', async () => {
    const process = createJobProcessor({
      unsealer: new Unsealer(keys.privateKey),
      admission: jobAdmission(config, redis),
      salts: new SaltRing(new RedisSaltStore(redis, prefix), workerIdSecret(keys.privateKey)),
      anonymise: anonymiseStep(anonymiseConfig(config), createDeviceParser({ cacheSize: 100 })),
      // A fresh buffer per add: each job is its own insert, as when jobs arrive one at a time.
      inserter: new EventInserter(store.client, { batchRows: 1, flushMs: 10 }),
      client: store.client,
      metrics: createMetrics(),
    });
    const deliver = (j: { id: string; data: SealedJobData }): QueuedJob => ({ id: j.id, data: j.data, attemptsStarted: 1, attemptsMade: 0 });

    const first = await collect(4);
    await process(deliver(first));
    expect(await stored()).toBe(4);

    // What a Redis restart without persistence does: every key gone, the job id counter with them.
    await deleteKeys(redis, prefix);
    const second = await collect(6);
    expect(second.id).toBe(first.id);
    // Each job carries its own random nonce, drawn by the collector and stored with the job.
    expect(first.data.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.data.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.data.nonce).not.toBe(first.data.nonce);

    await process(deliver(second));
    expect(await stored()).toBe(4 + 6);

    // The same job inserted again with the same rows (an insert retried after a lost answer) is still a no-op.
    await process(deliver(first));
    expect(await stored()).toBe(4 + 6);
  });
});
