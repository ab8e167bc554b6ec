/**
 * Jobs BullMQ cannot even parse. A job whose `data` or `opts` field is not
 * JSON (written by someone with Redis access, or damaged) makes the worker
 * fail while taking it, before any processor runs: it stays in `active`
 * (its lock lapses, the stalled check hands it out again, and so on) and the
 * worker logs an error for it forever. No retry or dead letter can help a job
 * that cannot be read, and its content is unknown (it may be anything, raw
 * personal data included), so it is not kept: the sweeper deletes it, and the
 * caller counts it and logs its id, never its content.
 *
 * Only jobs that stay put are read: an id seen (in `active` or at the head of
 * `wait`) by the previous sweep too. A malformed job never moves on (it stays
 * in `active`, or, with unparseable options, blocks the head of `wait`), so it
 * is found one sweep later than it would be by reading everything; a healthy
 * job moves on within a sweep interval under load and is never read. Reading
 * every job each sweep cost a share of the worker's thread in proportion to
 * the throughput (each job's sealed data fetched and parsed again: megabytes
 * a sweep at full load); this reads nothing while the queue flows.
 */
import type { Redis } from './redis.js';

/** How many of the oldest waiting jobs each sweep also looks at (active holds at most the workers' concurrency). */
const WAIT_HEAD = 200;

export interface MalformedJob {
  id: string;
  /** Which field could not be parsed. */
  field: 'data' | 'opts';
}

const parses = (text: string | null): boolean => {
  if (text === null) return true; // absent: BullMQ reads '{}'
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

export class MalformedJobSweeper {
  private readonly base: string;
  /** The ids the previous sweep saw in `active` or at the head of `wait`. */
  private seen = new Set<string>();

  constructor(
    private readonly redis: Redis,
    queueName: string,
    prefix: string,
  ) {
    this.base = `${prefix}:${queueName}`;
  }

  /** Finds the malformed jobs among the active ones and the head of the waiting list, and deletes them. */
  async sweep(): Promise<MalformedJob[]> {
    const [active, waiting] = await Promise.all([this.redis.lrange(`${this.base}:active`, 0, -1), this.redis.lrange(`${this.base}:wait`, -WAIT_HEAD, -1)]);
    const now = new Set([...active, ...waiting]);
    // Only the ids that have not moved since the last sweep (see the header).
    const ids = [...now].filter((id) => this.seen.has(id));
    this.seen = now;
    if (ids.length === 0) return [];
    const read = this.redis.pipeline();
    for (const id of ids) read.hmget(`${this.base}:${id}`, 'data', 'opts');
    const fields = (await read.exec()) ?? [];
    const bad: MalformedJob[] = [];
    ids.forEach((id, i) => {
      const [err, value] = fields[i] ?? [null, null];
      if (err) return;
      const [data, opts] = value as [string | null, string | null];
      if (!parses(data)) bad.push({ id, field: 'data' });
      else if (!parses(opts)) bad.push({ id, field: 'opts' });
    });
    if (bad.length === 0) return [];
    const remove = this.redis.multi();
    for (const { id } of bad) {
      for (const list of ['active', 'wait', 'paused']) remove.lrem(`${this.base}:${list}`, 0, id);
      for (const set of ['prioritized', 'delayed', 'failed', 'completed']) remove.zrem(`${this.base}:${set}`, id);
      remove.srem(`${this.base}:stalled`, id);
      remove.del(`${this.base}:${id}`, `${this.base}:${id}:lock`, `${this.base}:${id}:logs`);
    }
    await remove.exec();
    return bad;
  }
}
