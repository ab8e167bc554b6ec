/**
 * Promise 4: a job whose rows ClickHouse rejects (poison) ends in the
 * dead-letter queue after its attempts, holding only sealed or anonymised
 * data, while every other job flows on; `npm run dlq -- list|retry|purge`
 * inspects and replays it, and dead letters expire.
 * The poison is real: with TEST_ONLY_FAULTS poison-while-file the worker gives
 * the rows of custom events named `fault-poison` a timestamp that ClickHouse
 * itself refuses to parse, while DATA_DIR/FAULT_POISON exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POISON_EVENT_NAME, POISON_FILE } from '../../src/app/faults.js';
import { DeadLetters } from '../../src/queue/dlq.js';
import { batch, EventBuilder } from '../support/builders.js';
import { dumpRedis } from '../support/redis-keys.js';
import { createFaultStack, QUEUE, sleep, until, type FaultStack } from '../support/fault-stack.js';

let s: FaultStack;
let poisonFile: string;
/** Acknowledged events an operator purged on purpose: not expected in ClickHouse. */
let purged = 0;

const CANARY = 'canary-Zx81Q';
const poisonBatch = () =>
  batch([
    EventBuilder.pageview(`http://localhost/products/poisoned?secret=${CANARY}`),
    EventBuilder.custom('http://localhost/products/poisoned').with({ custom: { name: POISON_EVENT_NAME, props: { note: CANARY } } }),
    EventBuilder.click('http://localhost/products/poisoned'),
  ]);

beforeAll(async () => {
  s = await createFaultStack('poison', { TEST_ONLY_FAULTS: 'poison-while-file', JOB_ATTEMPTS: '3', RETRY_MAX_BACKOFF_MS: '1000', GROUP_COMMIT_MS: '0' });
  await s.startCollector();
  poisonFile = path.join(s.dataDir, POISON_FILE);
  fs.writeFileSync(poisonFile, '');
  await s.startWorker();
}, 120_000);

afterAll(async () => {
  await s?.close();
});

const failedIds = () => s.redis.zrange(`${s.prefix}:${QUEUE}:failed`, 0, -1);
const ledger = () => s.acknowledged - purged;

describe('poison job', () => {
  let poisonId = '';
  let poisonEvents = 0;

  it('goes to the dead-letter queue after its attempts, sealed; every other job lands', async () => {
    // Normal load, with one poison request (a job of its own) in the middle of it.
    await s.load(8, 4, async (i) => {
      if (i === 3) {
        const r = await s.send(poisonBatch());
        expect(r.status).toBe(202);
        poisonEvents = r.accepted;
      }
    });
    expect(poisonEvents).toBe(3);
    const failed = await until(failedIds, (ids) => ids.length === 1, 30_000);
    expect(failed).toHaveLength(1);
    poisonId = failed[0]!;

    const others = await s.waitForStored(s.acknowledged - poisonEvents, 30_000);
    await sleep(1000);
    const now = await s.tally();
    const othersEvents = s.acknowledged - poisonEvents;
    expect(now).toEqual({ count: othersEvents, distinct: othersEvents, aggregated: othersEvents });
    expect(others.n).toBe(othersEvents);
    console.info(`poison: acknowledged ${s.acknowledged} (poison job ${poisonEvents} events), stored ${now.count}, distinct ${now.distinct}, aggregated ${now.aggregated}`);

    // The standalone worker's own /metrics shows the dead letter (it samples the queue itself).
    const deadLetters = await until(async () => (await s.scrape(s.workerUrl))('anon_dead_letter_jobs'), (n) => n === 1, 10_000);
    expect(deadLetters).toBe(1);

    // What the dead letter holds: the sealed envelope, an event count and a random nonce (the insert
    // deduplication key); the reason quotes anonymised rows at most.
    const job = await s.redis.hgetall(s.jobKey(poisonId));
    const data = JSON.parse(job.data!) as { nonce: string };
    expect(Object.keys(data).sort()).toEqual(['n', 'nonce', 's']);
    expect(data.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Number(job.atm)).toBeLessThanOrEqual(3);
    expect(job.failedReason).toMatch(/rejected/);
    const dump = await dumpRedis(s.redis, s.prefix);
    for (const secret of [CANARY, 'Mozilla/5.0', 'X11; Linux', '127.0.0.1']) expect(dump).not.toContain(secret);
    expect(s.workerLog().some((l) => l.msg === 'job moved to the dead-letter queue' && l.job === poisonId)).toBe(true);
  }, 90_000);

  it('npm run dlq -- list shows it; retry replays it (failing again while still poison, landing once fixed)', async () => {
    const list = await s.dlq('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('1 dead letter(s)');
    expect(list.stdout).toMatch(new RegExp(`^${poisonId}\\t.*events=3\\t.*rejected`, 'm'));

    const finishedBefore = Number(await s.redis.hget(s.jobKey(poisonId), 'finishedOn'));
    const again = await s.dlq('retry');
    expect(again.stdout).toContain('moved 1 job(s)');
    // Still poison: it is processed again and comes back to the dead-letter queue.
    await until(async () => Number(await s.redis.hget(s.jobKey(poisonId), 'finishedOn')), (t) => t > finishedBefore, 30_000);
    expect(await until(failedIds, (ids) => ids.length === 1, 10_000)).toEqual([poisonId]);

    fs.rmSync(poisonFile);
    const fixed = await s.dlq('retry', poisonId);
    expect(fixed.stdout).toContain('moved 1 job(s)');
    const landed = await s.waitForStored(ledger(), 30_000);
    expect(landed.n).toBe(ledger());
    await sleep(1000);
    const r = await s.tally();
    expect(r).toEqual({ count: ledger(), distinct: ledger(), aggregated: ledger() });
    expect((await s.stored(`custom_name = '${POISON_EVENT_NAME}'`)).n).toBe(1);
    expect(await failedIds()).toEqual([]);
    expect((await s.dlq('list')).stdout).toContain('0 dead letter(s)');
  }, 90_000);

  it('dead letters expire after DLQ_RETENTION_DAYS; npm run dlq -- purge deletes them', async () => {
    fs.writeFileSync(poisonFile, '');
    for (let i = 0; i < 2; i++) {
      const r = await s.send(poisonBatch());
      expect(r.status).toBe(202);
      purged += r.accepted;
    }
    const ids = await until(failedIds, (x) => x.length === 2, 30_000);
    expect(ids).toHaveLength(2);

    const redis = new Redis(s.redisUrl);
    const dlq = new DeadLetters(redis, QUEUE, s.prefix);
    try {
      expect(await dlq.expire(14)).toBe(0);
      // Age one dead letter past the retention (its failure time is its score in the failed set).
      const old = Date.now() - 15 * 86_400_000;
      await redis.zadd(`${s.prefix}:${QUEUE}:failed`, 'XX', old, ids[0]!);
      await redis.hset(s.jobKey(ids[0]!), 'finishedOn', String(old));
      expect(await dlq.expire(14)).toBe(1);
      expect(await redis.exists(s.jobKey(ids[0]!))).toBe(0);
    } finally {
      await dlq.close();
      redis.disconnect();
    }

    const purge = await s.dlq('purge');
    expect(purge.code).toBe(0);
    expect(purge.stdout).toContain('purged 1 dead letter(s)');
    expect(await failedIds()).toEqual([]);
    expect(await s.redis.exists(s.jobKey(ids[1]!))).toBe(0);
    // The purged events never reach ClickHouse; everything else is still there exactly once.
    const r = await s.tally();
    expect(r).toEqual({ count: ledger(), distinct: ledger(), aggregated: ledger() });
  }, 90_000);
});
