/**
 * Promise 3: ClickHouse unavailable. Jobs are not failed (an outage must not
 * use up their attempts, or a long one would dead-letter the backlog): they
 * go back to waiting while the queue pauses with a capped exponential backoff;
 * the backlog grows until the collector answers 503 + Retry-After past its
 * high-water mark; after recovery everything acknowledged lands, exactly once.
 *   - server mode: CLICKHOUSE_URL points at a closed port (never recovers);
 *   - embedded: the store fails while a fault file exists, then recovers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STORE_DOWN_FILE } from '../../src/app/faults.js';
import { freePort } from '../support/redis-server.js';
import { createFaultStack, sleep, until, type FaultStack, type SendResult } from '../support/fault-stack.js';

const stacks: FaultStack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.close();
});

const OUTAGE_ENV = { QUEUE_HIGH_WATER: '6', GROUP_COMMIT_MS: '0', INSERT_FLUSH_MS: '100', RETRY_MAX_BACKOFF_MS: '2000', JOB_ATTEMPTS: '3' };

/** Sends one request at a time (one job each) until the collector turns 503; bounded. */
async function sendUntil503(s: FaultStack): Promise<{ ok: number; refused: SendResult | undefined }> {
  let ok = 0;
  for (let i = 0; i < 80; i++) {
    const r = await s.send();
    if (r.status === 503) return { ok, refused: r };
    expect(r.status).toBe(202);
    ok++;
    // The collector samples the backlog every 250 ms.
    await sleep(60);
  }
  return { ok, refused: undefined };
}

/**
 * While the backlog of `jobs` waits, the queue gauges of the collector and of the standalone worker (each
 * samples on its own) show it: waiting at least the backlog, the oldest job some time old. Polled, because a
 * job the worker is just trying again is briefly active, not waiting.
 */
async function expectBacklogOnMetrics(s: FaultStack, jobs: number): Promise<void> {
  for (const [who, url] of [['collector', s.collectorUrl], ['worker', s.workerUrl]] as const) {
    const seen = await until(
      async () => {
        const m = await s.scrape(url);
        return { waiting: m('anon_queue_waiting_jobs'), oldest: m('anon_queue_oldest_waiting_seconds'), deadLetters: m('anon_dead_letter_jobs') };
      },
      (g) => g.waiting >= jobs && g.oldest > 0,
      10_000,
    );
    expect(seen.waiting, who).toBeGreaterThanOrEqual(jobs);
    expect(seen.oldest, who).toBeGreaterThan(0);
    expect(seen.deadLetters, who).toBe(0);
  }
}

function pauses(s: FaultStack): number[] {
  return s.workerLog().filter((l) => l.msg?.startsWith('dependency unavailable')).map((l) => Number(l.pauseMs));
}

async function attemptsUsed(s: FaultStack): Promise<{ made: number; started: number }> {
  const ids = await s.redis.lrange(`${s.prefix}:events:wait`, 0, -1);
  let made = 0;
  let started = 0;
  for (const id of ids) {
    const [atm, ats] = await s.redis.hmget(s.jobKey(id), 'atm', 'ats');
    made = Math.max(made, Number(atm ?? 0));
    started = Math.max(started, Number(ats ?? 0));
  }
  return { made, started };
}

describe('ClickHouse outage', () => {
  it('server mode, unreachable URL: jobs wait with capped exponential backoff, attempts untouched; 503 past the high-water mark', async () => {
    const closedPort = await freePort();
    const s = await createFaultStack('ch-server', { ...OUTAGE_ENV, CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}`, MIGRATE_ON_START: 'false' });
    stacks.push(s);
    await s.startCollector();
    await s.startWorker();

    const { ok, refused } = await sendUntil503(s);
    expect(ok).toBeGreaterThanOrEqual(6);
    expect(refused?.retryAfter).toMatch(/^\d+$/);
    expect(refused?.error).toMatch(/high-water/);
    expect(refused!.ms).toBeLessThan(1000); // a decision on a sampled count: answered at once, never a hang

    // The pauses double from 500 ms up to RETRY_MAX_BACKOFF_MS and stay there.
    const seen = await until(async () => pauses(s), (p) => p.length >= 4, 25_000);
    expect(seen.slice(0, 4)).toEqual([500, 1000, 2000, 2000]);
    console.info(`clickhouse-outage (server): ${ok} requests acknowledged before 503 in ${refused!.ms.toFixed(1)} ms; pauses ${seen.join(',')}`);
    const counts = await s.queueCounts();
    expect(counts.failed).toBe(0);
    expect(counts.wait + counts.delayed).toBeGreaterThanOrEqual(6);
    // GROUP_COMMIT_MS=0 and one request at a time: each acknowledged request is a job of the backlog.
    await expectBacklogOnMetrics(s, ok);
    // Redelivered again and again, yet no attempt used: JOB_ATTEMPTS=3 would have dead-lettered them by now.
    const used = await attemptsUsed(s);
    expect(used.made).toBe(0);
    expect(used.started).toBeGreaterThan(1);
    expect((await fetch(`${s.workerUrl}/readyz`)).status).toBe(503);
  }, 90_000);

  it('embedded, store unavailable then back: 503 past the high-water mark, then every acknowledged event lands exactly once', async () => {
    const s = await createFaultStack('ch-embedded', { ...OUTAGE_ENV, TEST_ONLY_FAULTS: 'store-down-while-file' });
    stacks.push(s);
    await s.startCollector();
    const downFile = path.join(s.dataDir, STORE_DOWN_FILE);
    fs.writeFileSync(downFile, '');
    await s.startWorker();

    const { ok, refused } = await sendUntil503(s);
    expect(ok).toBeGreaterThanOrEqual(6);
    expect(refused?.retryAfter).toMatch(/^\d+$/);
    await until(async () => pauses(s), (p) => p.length >= 3, 20_000);
    expect((await s.stored()).n).toBe(0);
    expect((await s.queueCounts()).failed).toBe(0);
    expect((await attemptsUsed(s)).made).toBe(0);
    await expectBacklogOnMetrics(s, ok);

    fs.rmSync(downFile);
    const t0 = Date.now();
    const landed = await s.waitForStored(s.acknowledged, 30_000);
    const recoverMs = Date.now() - t0;
    expect(landed.n).toBe(s.acknowledged);
    // The collector takes requests again once the backlog is below the mark.
    const back = await until(() => s.send(), (r) => r.status === 202, 10_000, 250);
    expect(back.status).toBe(202);
    const r = await s.waitForStored(s.acknowledged, 20_000);
    await sleep(1000);
    const final = await s.tally();
    console.info(
      `clickhouse-outage (embedded): acknowledged ${s.acknowledged}, stored ${final.count}, distinct ${final.distinct}, aggregated ${final.aggregated}, ` +
        `all landed ${recoverMs} ms after recovery`,
    );
    expect(r.n).toBe(s.acknowledged);
    expect(final).toEqual({ count: s.acknowledged, distinct: s.acknowledged, aggregated: s.acknowledged });
    expect(await s.queueCounts()).toMatchObject({ wait: 0, active: 0, delayed: 0, failed: 0 });
  }, 90_000);
});
