/**
 * Housekeeping runs once per deployment (src/queue/housekeeping.ts,
 * src/queue/lease.ts): two real processes contend for the same lease on real
 * Redis, each running the real Housekeeper, and the work log they both append
 * to must show
 *   - one holder at a time: fencing tokens never go down in the log, and each
 *     run's steps are consecutive and from one process;
 *   - a holder frozen past its lease (a stop-the-world pause) is fenced out:
 *     after it wakes, it does not take one more step, although a newer holder
 *     ran meanwhile;
 *   - with a period, one run per period for the deployment, not per process.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Housekeeper, type HousekeepingOutcome } from '../src/queue/housekeeping.js';
import { Leases, LeaseLostError } from '../src/queue/lease.js';
import { randomId } from './support/builders.js';
import { REDIS_URL } from './support/pipeline.js';
import { deleteKeys } from './support/redis-keys.js';

const ROOT = path.resolve(import.meta.dirname, '..');
let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const p of prefixes) await deleteKeys(redis, p);
  redis.disconnect();
});

const newPrefix = () => {
  const p = `t${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
  prefixes.push(p);
  return p;
};

interface Entry {
  pid: number;
  token: number;
  step: number;
  t: number;
}

/** Runs one contender process to its end; its outcome lines. */
function contender(env: Record<string, string>): Promise<{ pid: number; outcomes: { outcome: string; token?: number }[]; code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/housekeeping-contender.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      const outcomes = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { outcome: string; token?: number });
      resolve({ pid: child.pid!, outcomes, code, output });
    });
  });
}

const workLog = async (prefix: string): Promise<Entry[]> => (await redis.lrange(`${prefix}:worklog`, 0, -1)).map((l) => JSON.parse(l) as Entry);

/** The log split into runs (one per token), in log order. */
function runsOf(log: Entry[]): { token: number; pid: number; steps: number[]; start: number; end: number }[] {
  const runs = new Map<number, { token: number; pid: number; steps: number[]; start: number; end: number }>();
  for (const e of log) {
    const r = runs.get(e.token) ?? { token: e.token, pid: e.pid, steps: [], start: e.t, end: e.t };
    expect(r.pid, `token ${e.token} used by two processes`).toBe(e.pid);
    r.steps.push(e.step);
    r.end = e.t;
    runs.set(e.token, r);
  }
  return [...runs.values()];
}

describe('housekeeping lease with fencing, two processes on real Redis', () => {
  it('one holder at a time, and a holder frozen past its lease is fenced out at its next step', async () => {
    const prefix = newPrefix();
    // The lease is long enough that a loaded machine (the whole suite running) does not make a holder miss its
    // renewals by accident; the frozen one stalls for three lease periods.
    const common = { PREFIX: prefix, LEASE_MS: '1000', TICK_MS: '20', STEPS: '5', STEP_MS: '25', EVERY_MS: '0', RUN_MS: '7000' };
    const [a, b] = await Promise.all([contender({ ...common, STALL_MS: '3000' }), contender(common)]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);

    const log = await workLog(prefix);
    // Fencing: once a newer token has worked, no older token works again.
    let highest = 0;
    for (const e of log) {
      expect(e.token, `token ${e.token} worked after token ${highest}: two holders at once`).toBeGreaterThanOrEqual(highest);
      highest = e.token;
    }
    const runs = runsOf(log);
    // Each run's steps in order, none skipped; complete runs have every step.
    for (const r of runs) expect(r.steps).toEqual(r.steps.map((_, i) => i));
    // Real contention: both processes held the lease, many times.
    expect(runs.filter((r) => r.pid === a.pid).length).toBeGreaterThanOrEqual(2);
    expect(runs.filter((r) => r.pid === b.pid).length).toBeGreaterThanOrEqual(2);

    // The frozen run: process a's first run stopped after step 2 (where it froze), and a newer holder (b) ran
    // while it was frozen; a noticed it had lost the lease.
    const frozen = runs.find((r) => r.pid === a.pid)!;
    expect(frozen.steps).toEqual([0, 1, 2]);
    const during = runs.filter((r) => r.token > frozen.token && r.start < frozen.end + 3000);
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during.every((r) => r.pid === b.pid)).toBe(true);
    expect(a.outcomes.some((o) => o.outcome === 'lease_lost' && o.token === frozen.token)).toBe(true);
    // Every other run finished all its steps, or stopped because it had lost its lease (a holder that misses its
    // renewals on a loaded machine is fenced out like the frozen one: the fence, not luck, keeps one holder).
    const lost = new Set([...a.outcomes, ...b.outcomes].filter((o) => o.outcome === 'lease_lost').map((o) => o.token));
    // Each process's last run may be cut short by its own stop at the end of RUN_MS.
    const stoppedRuns = new Set([a.pid, b.pid].map((pid) => runs.filter((r) => r.pid === pid).at(-1)));
    for (const r of runs.filter((x) => x !== frozen && !stoppedRuns.has(x))) {
      if (r.steps.length < 5) expect(lost.has(r.token), `run of token ${r.token} stopped after ${r.steps.length} steps without losing its lease`).toBe(true);
    }
  });

  it('with a period, the deployment runs the job once per period however many processes look', async () => {
    const prefix = newPrefix();
    const common = { PREFIX: prefix, LEASE_MS: '2000', TICK_MS: '25', STEPS: '2', STEP_MS: '10', EVERY_MS: '1000', RUN_MS: '3600' };
    const [a, b] = await Promise.all([contender(common), contender(common)]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const runs = runsOf(await workLog(prefix));
    // About 3.6 s of looking every 25 ms by each of two processes: a run at the start and one each second after
    // the previous one finished, so 3 or 4 runs, not one per look or per process.
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.token).toBeGreaterThan(runs[i - 1]!.token);
      // The next run starts a full period after the previous one finished (same machine, same clock).
      expect(runs[i]!.start - runs[i - 1]!.end).toBeGreaterThanOrEqual(1000 - 25);
    }
    expect(a.outcomes.filter((o) => o.outcome === 'ran').length + b.outcomes.filter((o) => o.outcome === 'ran').length).toBe(runs.length);
  });
});

describe('Leases (two independent clients)', () => {
  it('is exclusive, issues growing tokens, and refuses a stale holder', async () => {
    const prefix = newPrefix();
    const other = new Redis(REDIS_URL);
    try {
      const mine = new Leases(redis, prefix);
      const theirs = new Leases(other, prefix);
      const first = await mine.acquire('job', 200);
      expect(first?.token).toBe(1);
      expect(await theirs.acquire('job', 200)).toBeUndefined();
      await first!.check();
      // It expires while its holder is away; another takes it with a larger token.
      await new Promise((r) => setTimeout(r, 300));
      const second = await theirs.acquire('job', 5000);
      expect(second!.token).toBeGreaterThan(first!.token);
      await expect(first!.check()).rejects.toBeInstanceOf(LeaseLostError);
      expect(await first!.renew()).toBe(false);
      expect(await first!.complete(Date.now())).toBe(false);
      // A stale release does not free the new holder's lease.
      await first!.release();
      expect(await mine.acquire('job', 200)).toBeUndefined();
      expect(await second!.complete(1234)).toBe(true);
      expect(await mine.lastDone('job')).toBe(1234);
      await second!.release();
      const third = await mine.acquire('job', 200);
      expect(third!.token).toBe(second!.token + 1);
      await third!.release();
    } finally {
      other.disconnect();
    }
  });
});

describe('Housekeeper.stop', () => {
  it('ends a job at its next fenced step, and never waits longer than its bound for one that does not return', async () => {
    const prefix = newPrefix();
    const outcomes: HousekeepingOutcome[] = [];
    const steps: number[] = [];
    const polite = new Housekeeper(redis, prefix, { tickMs: 60_000, onOutcome: (o) => outcomes.push(o.outcome) }).add({
      name: 'long',
      everyMs: 0,
      async run(fence) {
        for (let i = 0; i < 1000; i++) {
          await fence.check();
          steps.push(i);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
    });
    polite.start();
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await polite.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.length).toBeLessThan(1000);
    // Cut short: not recorded as done, so the next holder runs it again.
    expect(outcomes).toEqual(['failed']);
    expect(await polite.leases.lastDone('long')).toBe(0);

    // A job stuck where no fence is checked (Redis away, say): stop() returns after its bound anyway.
    const stuck = new Housekeeper(redis, prefix, { tickMs: 60_000 }).add({ name: 'stuck', everyMs: 0, run: () => new Promise(() => {}) });
    stuck.start();
    await new Promise((r) => setTimeout(r, 100));
    const t1 = Date.now();
    await stuck.stop(300);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t1).toBeLessThan(2000);
  });
});
