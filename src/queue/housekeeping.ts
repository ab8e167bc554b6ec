/**
 * Housekeeping once per deployment, not once per process.
 *
 * Every worker carries the same housekeeping jobs (dead-letter expiry, the
 * daily rollup on a ClickHouse server, an AOF rewrite); run by each of N
 * workers they would run N times an hour, at the same moments, on the same
 * data. So each job runs under a lease (lease.ts): every process looks every
 * `tickMs` (jittered, so N processes do not ask in step); the one that gets
 * the lease runs the job if its period has passed since the last finished
 * run (recorded in Redis when it finishes, by the holder only), and lets the
 * lease go. While the job runs, the lease is renewed every third of its
 * expiry; a holder that loses it (it stalled past the expiry and another
 * took over) is stopped by the fence at its next step.
 *
 * A failed run is not recorded, so the next holder tries again; this
 * process waits `retryMs` before it tries again itself.
 */
import { LeaseLostError, Leases, type Fence } from './lease.js';
import type { Redis } from './redis.js';

export type { Fence };
export { LeaseLostError };

export interface HousekeepingJob {
  /** Names the lease: one run of a name at a time, across every process on this Redis and prefix. */
  name: string;
  /** At most once per this period per deployment. */
  everyMs: number;
  /** The work; calls `fence.check()` before each step (and passes the fence on to whatever does the steps). */
  run(fence: Fence): Promise<void>;
}

export type HousekeepingOutcome = 'ran' | 'not_due' | 'held_elsewhere' | 'failed' | 'lease_lost';

export interface HousekeeperOptions {
  /** How often each process looks (default 60 s, ±20 % jitter). */
  tickMs?: number;
  /** Lease expiry (default 60 s); renewed every third of it while a job runs. */
  leaseMs?: number;
  /** Wait after a failed run before this process tries again (default: the job's period, at most 10 min). */
  retryMs?: number;
  now?: () => number;
  /** Each attempt's outcome (for logs); `error` for 'failed' and 'lease_lost'. */
  onOutcome?: (o: { job: string; outcome: HousekeepingOutcome; token?: number; ms?: number; error?: Error }) => void;
}

export class Housekeeper {
  readonly leases: Leases;
  private readonly jobs: HousekeepingJob[] = [];
  private readonly retryAt = new Map<string, number>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    redis: Pick<Redis, 'eval' | 'get'>,
    prefix: string,
    private readonly opts: HousekeeperOptions = {},
  ) {
    this.leases = new Leases(redis, prefix);
    this.now = opts.now ?? Date.now;
  }

  add(job: HousekeepingJob): this {
    this.jobs.push(job);
    return this;
  }

  /** Looks now, then every tickMs (jittered) until stopped. */
  start(): void {
    const tick = () => {
      this.running = this.running.then(() => this.tick());
      void this.running.then(() => {
        if (this.stopped) return;
        const base = this.opts.tickMs ?? 60_000;
        this.timer = setTimeout(tick, base * (0.8 + Math.random() * 0.4));
        this.timer.unref();
      });
    };
    tick();
  }

  /** One look at every job, one after the other. */
  async tick(): Promise<void> {
    for (const job of this.jobs) {
      if (this.stopped) return;
      await this.runIfDue(job);
    }
  }

  /** Runs `job` if this process gets its lease and its period has passed since the last finished run. */
  async runIfDue(job: HousekeepingJob): Promise<HousekeepingOutcome> {
    const report = (outcome: HousekeepingOutcome, extra: { token?: number; ms?: number; error?: Error } = {}) => {
      this.opts.onOutcome?.({ job: job.name, outcome, ...extra });
      return outcome;
    };
    const t0 = this.now();
    if ((this.retryAt.get(job.name) ?? 0) > t0) return 'not_due';
    let lease;
    try {
      // Cheap read first: most looks find the job done within its period.
      if (t0 - (await this.leases.lastDone(job.name)) < job.everyMs) return 'not_due';
      const leaseMs = this.opts.leaseMs ?? 60_000;
      lease = await this.leases.acquire(job.name, leaseMs);
      if (!lease) return report('held_elsewhere');
      // Again under the lease: the previous holder may have finished between the read and the acquire.
      if (this.now() - (await this.leases.lastDone(job.name)) < job.everyMs) return 'not_due';
      const held = lease;
      let lost = false;
      const renewal = setInterval(() => {
        void held.renew().then(
          (ok) => (lost ||= !ok),
          () => {},
        );
      }, leaseMs / 3);
      renewal.unref();
      try {
        await job.run({
          token: held.token,
          check: async () => {
            if (lost) throw new LeaseLostError(job.name, held.token);
            // Stopping (SIGTERM): the job ends at its next step instead of holding up the drain; not recorded as done.
            if (this.stopped) throw new Error(`housekeeping job "${job.name}" cut short: the process is stopping`);
            await held.check();
          },
        });
      } finally {
        clearInterval(renewal);
      }
      if (!(await held.complete(this.now()))) throw new LeaseLostError(job.name, held.token);
      this.retryAt.delete(job.name);
      return report('ran', { token: held.token, ms: this.now() - t0 });
    } catch (err) {
      this.retryAt.set(job.name, this.now() + (this.opts.retryMs ?? Math.min(job.everyMs, 600_000)));
      const error = err as Error;
      return report(err instanceof LeaseLostError ? 'lease_lost' : 'failed', { token: lease?.token, error });
    } finally {
      await lease?.release().catch(() => {});
    }
  }

  /**
   * Stops looking and waits for a job in progress, which ends at its next step (its fence check sees the stop),
   * for at most `waitMs`: with Redis away a step can wait for ever, and a drain must not. A job left running
   * then loses its lease when the process exits (the lease expires; the next holder redoes the run).
   */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    await Promise.race([this.running.then(() => {}, () => {}), bound]);
    clearTimeout(timer);
  }
}
