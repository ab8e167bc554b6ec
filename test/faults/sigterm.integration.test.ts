/**
 * Promise 5: SIGTERM under load. The worker stops fetching, flushes its
 * buffered rows and completes the jobs it holds, then exits 0 within
 * SHUTDOWN_GRACE_MS, leaving no job active (nothing to be found stalled
 * later). The collector stops accepting, answers the requests in flight
 * (each 202 only once Redis has its job) and exits 0 within the grace period.
 * Nothing acknowledged is lost: count = distinct = acknowledged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proc } from '../support/process.js';
import { createFaultStack, sleep, until, type FaultStack, type SendResult } from '../support/fault-stack.js';

// Generous: under the whole suite's load on two cores a drain that flushes rows through the views took 8.7 s
// (seen in CI: over 10 s). What is asserted is that the drain finishes by itself, not how fast; the worker's
// last line says how long each drain step took (src/app/shutdown.ts), printed below.
const GRACE_MS = 30_000;
let s: FaultStack;

beforeAll(async () => {
  // A long flush interval, so SIGTERM finds rows buffered that the drain must flush.
  s = await createFaultStack('sigterm', { SHUTDOWN_GRACE_MS: String(GRACE_MS), INSERT_FLUSH_MS: '1500', JOB_LOCK_MS: '30000' });
  await s.startCollector();
  await s.startWorker();
}, 120_000);

afterAll(async () => {
  await s?.close();
});

/**
 * Four clients send continuously (each its next request as soon as the last is answered); SIGTERM arrives
 * after `afterMs`, with requests in flight, and the clients go on for a second after the process exited.
 */
async function terminateUnderLoad(proc: Proc, afterMs: number): Promise<{ code: number | null; exitMs: number; results: SendResult[]; activeAtSignal: number }> {
  const results: SendResult[] = [];
  let stop = false;
  const clients = Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 500 && !stop; i++) results.push(await s.send());
  });
  await sleep(afterMs);
  // Signal the worker while it holds jobs (it may be between batches at any single instant).
  const activeAtSignal = proc === s.worker ? (await until(() => s.queueCounts(), (c) => c.active > 0, 5000, 20)).active : (await s.queueCounts()).active;
  const t0 = Date.now();
  proc.child.kill('SIGTERM');
  const code = await proc.exited;
  const exitMs = Date.now() - t0;
  await sleep(1000);
  stop = true;
  await Promise.all(clients);
  return { code, exitMs, results, activeAtSignal };
}

describe('SIGTERM under load', () => {
  it('worker: flushes and completes what it holds, exits 0 within the grace period, no job left active', async () => {
    const worker = s.worker!;
    const { code, exitMs, activeAtSignal } = await terminateUnderLoad(worker, 2500);
    // The worker held jobs (rows buffered for the next flush) when the signal came.
    const tail = () => worker.output.join('').slice(-3000);
    expect(activeAtSignal).toBeGreaterThan(0);
    expect(code, tail()).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
    expect(worker.output.join(''), tail()).toContain('drained; bye');
    // No job is held by the gone worker (with JOB_LOCK_MS=30 s, one left active would sit there for 30 s).
    const counts = await s.queueCounts();
    expect(counts.active).toBe(0);
    expect(await s.redis.scard(`${s.prefix}:events:stalled`)).toBe(0);
    const bye = worker.output.join('').split('\n').find((l) => l.includes('drained; bye'));
    console.info(`sigterm worker: ${activeAtSignal} jobs active at SIGTERM; exited ${code} after ${exitMs} ms; left waiting ${counts.wait}, active ${counts.active}; ${bye}`);
  }, 150_000);

  it('collector: answers what is in flight, exits 0 within the grace period; every acknowledged event lands once', async () => {
    const w = s.worker?.child;
    if (!w || w.exitCode !== null || w.signalCode !== null) await s.startWorker();
    const collector = s.collector!;
    const { code, exitMs, results } = await terminateUnderLoad(collector, 2500);
    expect(code, collector.output.join('').slice(-3000)).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
    // In flight: 202; after the listener closed: connection refused (status 0). Never a 5xx other than 503.
    for (const r of results) expect([0, 202, 503]).toContain(r.status);
    expect(results.filter((r) => r.status === 202).length).toBeGreaterThan(20);
    expect(results.filter((r) => r.status === 0).length).toBeGreaterThan(0);

    const landed = await s.waitForStored(s.acknowledged, 30_000);
    expect(landed.n).toBe(s.acknowledged);
    await sleep(1000);
    const r = await s.tally();
    console.info(
      `sigterm collector: exited ${code} after ${exitMs} ms; statuses ${JSON.stringify(results.reduce<Record<number, number>>((a, x) => ((a[x.status] = (a[x.status] ?? 0) + 1), a), {}))}; ` +
        `acknowledged ${s.acknowledged}, stored ${r.count}, distinct ${r.distinct}, aggregated ${r.aggregated}`,
    );
    expect(r).toEqual({ count: s.acknowledged, distinct: s.acknowledged, aggregated: s.acknowledged });
    expect(await s.queueCounts()).toMatchObject({ wait: 0, active: 0, delayed: 0, failed: 0 });

    const worker = s.worker!;
    const t0 = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(GRACE_MS);
  }, 150_000);
});
