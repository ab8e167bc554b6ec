/**
 * The worker's side of the queue. Retriable failures are retried with capped
 * exponential backoff; a PermanentJobError becomes BullMQ's UnrecoverableError
 * and the job goes straight to the failed set, which is the dead-letter queue
 * (it holds only the sealed envelope and an error message about anonymised
 * data, and expires after DLQ_RETENTION_DAYS; see dlq.ts).
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { SealedJobData } from './job.js';
import { workerConnection, type Redis } from './redis.js';

export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
  constructor(message: string, options?: { cause?: unknown }) {
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
  redisUrl: string;
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
}

export function startConsumer(opts: ConsumerOptions, processor: (job: QueuedJob) => Promise<void>): Consumer {
  const connection = workerConnection(opts.redisUrl);
  const worker = new Worker<SealedJobData>(
    opts.queueName,
    async (job: Job<SealedJobData>) => {
      try {
        await processor({ id: job.id ?? '', data: job.data, attemptsStarted: job.attemptsStarted, attemptsMade: job.attemptsMade });
      } catch (err) {
        if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
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
      settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade, 500, opts.maxBackoffMs ?? 30_000) },
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
  };
}
