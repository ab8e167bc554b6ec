/**
 * The collector's side of the queue: group commit and backpressure.
 *
 * Group commit: requests arriving within GROUP_COMMIT_MS of each other are
 * sealed into one BullMQ job, so the queue costs next to nothing per event
 * even when the tracker sends one event per request. Each request's promise
 * settles only when Redis has acknowledged the job holding it: the collector
 * never answers 202 for an event Redis does not have. A job goes early once
 * it holds GROUP_COMMIT_MAX_EVENTS events. (The batching itself:
 * src/lib/group-commit.ts.)
 *
 * Backpressure: the number of waiting jobs is sampled every 250 ms
 * (queue-stats.ts); past the high-water mark the collector answers 503 instead
 * of growing Redis without bound.
 *
 * Each job gets a random nonce when it is created (job.ts): the worker keys
 * its insert deduplication token on it, not on the BullMQ job id.
 */
import { Queue } from 'bullmq';
import { GroupCommit } from '../lib/group-commit.js';
import type { CollectedRequest } from '../wire/types.js';
import { JOB_NAME, sealJob, type SealedJobData } from './job.js';
import { QueueSampler, type QueueStats } from './queue-stats.js';
import type { Redis } from './redis.js';
import type { Sealer } from './seal.js';
import type { JobSigner } from './signing.js';

export interface ProducerOptions {
  queueName: string;
  prefix: string;
  groupCommitMs: number;
  groupCommitMaxEvents: number;
  highWater: number;
  attempts: number;
  /** Upper bound on how long a request may wait for Redis before it is told 503. */
  addTimeoutMs?: number;
  /** This collector's signing identity (COLLECTOR_ID), when it has one. */
  signer?: JobSigner;
}

export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type { QueueStats };

export function defaultJobOptions(attempts: number) {
  return {
    attempts,
    backoff: { type: 'capped-exponential', delay: 500 },
    // Completed jobs are deleted at once: sealed raw context must not linger.
    removeOnComplete: true,
    // Failed jobs are the dead-letter queue; they are sealed, and expire (see dlq.ts).
    removeOnFail: false,
  } as const;
}

export class JobProducer {
  readonly queue: Queue<SealedJobData>;
  /** Requests waiting to be sealed into the next job: one commit is one BullMQ job. */
  private readonly jobs: GroupCommit<CollectedRequest>;
  private readonly sampler: QueueSampler;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly sealer: Sealer,
    private readonly opts: ProducerOptions,
  ) {
    this.queue = new Queue<SealedJobData>(opts.queueName, {
      connection: redis,
      prefix: opts.prefix,
      defaultJobOptions: defaultJobOptions(opts.attempts),
    });
    // A queue error (Redis away) must not crash the process; requests see it as 503.
    this.queue.on('error', () => {});
    this.sampler = new QueueSampler(this.queue);
    this.jobs = new GroupCommit<CollectedRequest>({
      maxDelayMs: opts.groupCommitMs,
      maxSize: opts.groupCommitMaxEvents,
      sizeOf: (req) => req.events.length,
      commit: (reqs) => this.addJob(reqs),
    });
  }

  startSampling(intervalMs = 250): void {
    this.sampler.start(intervalMs);
  }

  sample(): Promise<QueueStats> {
    return this.sampler.sample();
  }

  lastStats(): QueueStats {
    return this.sampler.latest();
  }

  /** True when the backlog is past the high-water mark (waiting + delayed retries). */
  overloaded(): boolean {
    const s = this.sampler.latest();
    return s.waiting + s.delayed >= this.opts.highWater;
  }

  /** Resolves once Redis holds a job containing `req`; rejects with QueueUnavailableError otherwise. */
  submit(req: CollectedRequest): Promise<void> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('collector is shutting down'));
    if (this.redis.status !== 'ready') return Promise.reject(new QueueUnavailableError(`Redis connection is ${this.redis.status}`));
    return this.jobs.add(req);
  }

  /** Seals `reqs` into one job and adds it. Any failure is a QueueUnavailableError: its requests are told 503. */
  private async addJob(reqs: CollectedRequest[]): Promise<void> {
    try {
      await this.addWithTimeout(reqs);
    } catch (err) {
      throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError('Redis did not accept the job', { cause: err });
    }
  }

  private async addWithTimeout(reqs: CollectedRequest[]): Promise<void> {
    const data = sealJob(this.sealer, reqs, undefined, this.opts.signer);
    const timeoutMs = this.opts.addTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError(`Redis did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.queue.add(JOB_NAME, data), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Flushes what is pending and waits for every add in flight. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sampler.close();
    await this.jobs.drain();
    await this.queue.close();
  }
}
