/**
 * The dead-letter queue is the queue's failed set: jobs that exhausted their
 * attempts or failed permanently. They hold only the sealed envelope (and an
 * error message about anonymised data), never block other jobs, and are
 * removed after DLQ_RETENTION_DAYS by `expire`, which workers run hourly.
 */
import { Queue } from 'bullmq';
import type { SealedJobData } from './job.js';
import type { Redis } from './redis.js';

export interface DeadLetter {
  id: string;
  failedAt: number;
  attempts: number;
  events: number;
  reason: string;
}

export class DeadLetters {
  private readonly queue: Queue<SealedJobData>;
  constructor(redis: Redis, queueName: string, prefix: string) {
    this.queue = new Queue<SealedJobData>(queueName, { connection: redis, prefix });
    this.queue.on('error', () => {});
  }

  async count(): Promise<number> {
    return this.queue.getFailedCount();
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.queue.getFailed(0, limit - 1);
    return jobs.map((j) => ({
      id: j.id ?? '',
      failedAt: j.finishedOn ?? 0,
      attempts: j.attemptsMade,
      events: j.data?.n ?? 0,
      reason: (j.failedReason ?? '').slice(0, 300),
    }));
  }

  /** Moves dead letters back to waiting; returns how many. */
  async retry(ids?: string[]): Promise<number> {
    if (!ids || ids.length === 0) {
      const n = await this.count();
      await this.queue.retryJobs({ state: 'failed', count: 1000 });
      return n;
    }
    let n = 0;
    for (const id of ids) {
      const job = await this.queue.getJob(id);
      if (job && (await job.isFailed())) {
        await job.retry('failed');
        n++;
      }
    }
    return n;
  }

  /**
   * Deletes dead letters older than `olderThanMs` (0 = all), a thousand at a time; returns how many.
   * `beforeBatch` runs before each thousand (housekeeping passes its fence check: src/queue/lease.ts).
   */
  async purge(olderThanMs = 0, beforeBatch?: () => Promise<void>): Promise<number> {
    let total = 0;
    for (;;) {
      await beforeBatch?.();
      const removed = await this.queue.clean(olderThanMs, 1000, 'failed');
      total += removed.length;
      if (removed.length < 1000) return total;
    }
  }

  expire(retentionDays: number, beforeBatch?: () => Promise<void>): Promise<number> {
    return this.purge(retentionDays * 86_400_000, beforeBatch);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
