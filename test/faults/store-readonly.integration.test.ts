/**
 * An embedded store that cannot take writes although its ping succeeds is
 * unavailable, not the job's fault. chDB's ping is an in-process SELECT 1: it
 * answers with the disk full, the data directory read-only or the memory
 * limit reached. Here the engine is really read-only (`SET readonly = 1` on
 * its one session): the insert fails with READONLY (164) while the ping
 * succeeds, and the job processor must raise DependencyUnavailableError (the
 * job waits without using an attempt) rather than a plain failure that would
 * spend the job's attempts and dead-letter it.
 */
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceParser } from '../../src/anonymise/device.js';
import { SaltRing } from '../../src/anonymise/salts.js';
import { anonymiseConfig, anonymiseStep, jobAdmission } from '../../src/app/worker.js';
import { loadConfig } from '../../src/config/config.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { DependencyUnavailableError } from '../../src/queue/consumer.js';
import { sealJob } from '../../src/queue/job.js';
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

const dir = tempDir('store-readonly');
const prefix = `t${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
const config = loadConfig({ DATA_DIR: dir, QUEUE_PREFIX: prefix, REDIS_URL });
let store: Store;
let redis: Redis;

beforeAll(async () => {
  store = await openStore(config.store);
  await migrate(store.client, migrationVars(config.store));
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis?.disconnect();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('embedded store that answers its ping but cannot write', () => {
  it('is DependencyUnavailable for the job, not a failed attempt', async () => {
    const keys = generateSealKeyPair();
    const process = createJobProcessor({
      unsealer: new Unsealer(keys.privateKey),
      admission: jobAdmission(config, redis),
      salts: new SaltRing(new RedisSaltStore(redis, prefix), workerIdSecret(keys.privateKey)),
      anonymise: anonymiseStep(anonymiseConfig(config), createDeviceParser({ cacheSize: 100 })),
      inserter: new EventInserter(store.client, { batchRows: 1, flushMs: 10, retries: 0 }),
      client: store.client,
      metrics: createMetrics(),
    });
    const job = () => {
      const body = mixedBatch(5);
      const data = sealJob(new Sealer(keys.publicKey), [{ ctx: { site: body.site, ip: '198.51.100.7', userAgent: BROWSER_UA, receivedAt: Date.now() }, events: body.events }]);
      return { id: randomId(6), data, attemptsStarted: 1, attemptsMade: 0 };
    };
    await process(job());

    await store.client.command({ query: 'SET readonly = 1' });
    expect((await store.client.ping()).success).toBe(true);
    const err = await process(job()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).dependency).toBe('clickhouse');
    expect((err as Error).message).toMatch(/READONLY/);
  });
});
