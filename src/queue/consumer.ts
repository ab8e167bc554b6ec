/**
 * The worker's side of the queue. Retriable failures are retried with capped
 * exponential backoff; a PermanentJobError becomes BullMQ's UnrecoverableError
 * and the job goes straight to the failed set, which is the dead-letter queue
 * (it holds only the sealed envelope and an error message about anonymised
 * data, and expires after DLQ_RETENTION_DAYS; see dlq.ts).
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { SealedJobData } from './job.js';
import { workerConnection, type Redis, type RedisTarget } from './redis.js';

export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
  /** Why, as a bounded label (e.g. a JobRejection of src/wire/collected.ts, 'unopenable', 'rows_rejected'). */
  readonly reason: string;
  constructor(message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options);
    this.reason = options?.reason ?? 'permanent';
  }
}

/**
 * Something every job needs is down (ClickHouse unreachable): not the job's
 * fault, so it must not use up the job's attempts, or a long outage would
 * dead-letter the whole backlog. The job goes back to waiting and the queue
 * is paused for all workers (BullMQ's manual rate limit) for a capped
 * exponential backoff that grows while the outage lasts.
 */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
  constructor(
    message: string,
    readonly dependency: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a processor may know about a job: no BullMQ types leak past src/queue. */
export interface QueuedJob {
  id: string;
  data: SealedJobData;
  /** > 1 when the job was delivered before (a retry, or a worker died holding it). */
  attemptsStarted: number;
  attemptsMade: number;
}

export interface ConsumerOptions {
  /** Redis or a Redis Cluster (the configuration's `redis` slice, or a redis:// URL). */
  redis: RedisTarget;
  queueName: string;
  prefix: string;
  concurrency: number;
  lockMs?: number;
  stalledIntervalMs?: number;
  maxBackoffMs?: number;
}

export function cappedBackoff(attemptsMade: number, baseMs = 500, maxMs = 30_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
}

export interface Consumer {
  connection: Redis;
  close(): Promise<void>;
  onFailed(fn: (job: { id: string; final: boolean; error: string }) => void): void;
  onError(fn: (err: Error) => void): void;
  /** A dependency is down: the queue is paused for `pauseMs` (once per backoff step, not once per job). */
  onPaused(fn: (p: { dependency: string; pauseMs: number; error: string }) => void): void;
}

export function startConsumer(opts: ConsumerOptions, processor: (job: QueuedJob) => Promise<void>): Consumer {
  const connection = workerConnection(opts.redis);
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const pausedListeners: ((p: { dependency: string; pauseMs: number; error: string }) => void)[] = [];
  // Outage backoff: grows by one step each time a pause has run out and the dependency is still down.
  let outageSteps = 0;
  let pausedUntil = 0;
  const worker: Worker<SealedJobData> = new Worker<SealedJobData>(
    opts.queueName,
    async (job: Job<SealedJobData>) => {
      try {
        await processor({ id: job.id ?? '', data: job.data, attemptsStarted: job.attemptsStarted, attemptsMade: job.attemptsMade });
        outageSteps = 0;
      } catch (err) {
        if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
        if (err instanceof DependencyUnavailableError) {
          const now = Date.now();
          if (now >= pausedUntil) {
            const pauseMs = cappedBackoff(++outageSteps, 500, maxBackoffMs);
            pausedUntil = now + pauseMs;
            // If Redis is away too, the job cannot move anyway; it comes back as stalled.
            await worker.rateLimit(pauseMs).catch(() => {});
            for (const fn of pausedListeners) fn({ dependency: err.dependency, pauseMs, error: err.message });
          }
          // Back to waiting without using an attempt; every worker waits out the pause.
          throw Worker.RateLimitError();
        }
        throw err;
      }
    },
    {
      connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency,
      lockDuration: opts.lockMs ?? 30_000,
      stalledInterval: opts.stalledIntervalMs ?? opts.lockMs ?? 30_000,
      // A worker killed mid-job leaves it stalled; it must come back, not fail.
      maxStalledCount: 10,
      settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade, 500, maxBackoffMs) },
      // BullMQ honours a manual rate limit (the outage pause above) only when a limiter is set; this one never
      // limits by itself (it counts jobs per second against an unreachable maximum).
      limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1000 },
    },
  );
  return {
    connection,
    async close() {
      await worker.close();
      connection.disconnect();
    },
    onFailed(fn) {
      worker.on('failed', (job, err) => {
        if (!job) return;
        const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
        fn({ id: job.id ?? '', final, error: err.message });
      });
    },
    onError(fn) {
      worker.on('error', fn);
    },
    onPaused(fn) {
      pausedListeners.push(fn);
    },
  };
}
