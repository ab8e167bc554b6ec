/**
 * How deep the queue is, sampled in the background so that a /collect request
 * or a /metrics scrape reads a number instead of waiting for Redis. The
 * collector's producer samples every 250 ms (its 503 decision reads it); a
 * standalone worker samples for its own /metrics (queue gauges, dead letters).
 */
import { Queue } from 'bullmq';
import type { SealedJobData } from './job.js';
import type { Redis } from './redis.js';

export interface QueueStats {
  waiting: number;
  active: number;
  failed: number;
  delayed: number;
  oldestWaitingAgeMs: number;
  /** 0 until the first sample succeeded. */
  sampledAt: number;
}

export const NO_SAMPLE: QueueStats = Object.freeze({ waiting: 0, active: 0, failed: 0, delayed: 0, oldestWaitingAgeMs: 0, sampledAt: 0 });

export async function sampleQueue(queue: Queue<SealedJobData>, now: () => number = Date.now): Promise<QueueStats> {
  const counts = await queue.getJobCounts('waiting', 'active', 'failed', 'delayed', 'prioritized');
  let oldest = 0;
  if ((counts.waiting ?? 0) > 0) {
    const [job] = await queue.getJobs(['wait'], 0, 0, true);
    if (job) oldest = Math.max(0, now() - job.timestamp);
  }
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    failed: counts.failed ?? 0,
    delayed: counts.delayed ?? 0,
    oldestWaitingAgeMs: oldest,
    sampledAt: now(),
  };
}

export class QueueSampler {
  private stats: QueueStats = NO_SAMPLE;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly queue: Queue<SealedJobData>,
    private readonly ownsQueue = false,
  ) {}

  /** A sampler with a queue handle of its own on `redis` (closed with the sampler, the connection is not). */
  static open(redis: Redis, queueName: string, prefix: string): QueueSampler {
    const queue = new Queue<SealedJobData>(queueName, { connection: redis, prefix });
    queue.on('error', () => {});
    return new QueueSampler(queue, true);
  }

  /**
   * Samples now and then every `intervalMs` after the previous sample settled: while Redis is away a
   * sample waits (or fails) and the next one is not queued behind it, so nothing piles up.
   */
  start(intervalMs: number): void {
    const tick = async () => {
      await this.sample().catch(() => {});
      if (this.stopped) return;
      this.timer = setTimeout(() => void tick(), intervalMs);
      this.timer.unref();
    };
    void tick();
  }

  async sample(): Promise<QueueStats> {
    this.stats = await sampleQueue(this.queue);
    return this.stats;
  }

  latest(): QueueStats {
    return this.stats;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ownsQueue) await this.queue.close();
  }
}
