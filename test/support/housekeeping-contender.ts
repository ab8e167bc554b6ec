/**
 * One contender for a housekeeping lease, run as its own process by
 * test/housekeeping.integration.test.ts (two of them contend on real Redis).
 * It runs the real Housekeeper with one job whose every step checks the fence
 * and then appends {pid, token, step, t} to a Redis list, the work log the
 * test reads. With STALL_MS set, its first run freezes the whole process
 * (event loop included, as a long GC pause would) after step 2.
 *
 * Env: REDIS_URL, PREFIX, JOB, EVERY_MS, LEASE_MS, TICK_MS, STEPS, STEP_MS, STALL_MS, RUN_MS.
 * Prints one JSON line per attempt outcome on stdout.
 */
import { Redis } from 'ioredis';
import { Housekeeper } from '../../src/queue/housekeeping.js';

const env = (k: string, d?: string) => process.env[k] ?? d ?? '';
const num = (k: string, d: number) => Number(env(k, String(d)));
const redis = new Redis(env('REDIS_URL', 'redis://127.0.0.1:6379'));
const prefix = env('PREFIX');
const steps = num('STEPS', 5);
const stepMs = num('STEP_MS', 20);
let stallMs = num('STALL_MS', 0);

const housekeeper = new Housekeeper(redis, prefix, {
  tickMs: num('TICK_MS', 20),
  leaseMs: num('LEASE_MS', 1000),
  retryMs: 0,
  onOutcome: (o) => console.log(JSON.stringify({ pid: process.pid, job: o.job, outcome: o.outcome, token: o.token, error: o.error?.message })),
});
housekeeper.add({
  name: env('JOB', 'contended'),
  everyMs: num('EVERY_MS', 0),
  async run(fence) {
    for (let step = 0; step < steps; step++) {
      await fence.check();
      await redis.rpush(`${prefix}:worklog`, JSON.stringify({ pid: process.pid, token: fence.token, step, t: Date.now() }));
      if (step === 2 && stallMs > 0) {
        const ms = stallMs;
        stallMs = 0;
        // Freezes this process entirely: no timers, no lease renewal, like a stop-the-world pause.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      }
      await new Promise((r) => setTimeout(r, stepMs));
    }
  },
});
housekeeper.start();
setTimeout(async () => {
  await housekeeper.stop();
  redis.disconnect();
}, num('RUN_MS', 3000));
