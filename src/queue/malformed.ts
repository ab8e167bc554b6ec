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
 * `wait`) by the last STAYED_SWEEPS sweeps in a row. A malformed job never
 * moves on (it stays in `active`, or, with unparseable options, blocks the
 * head of `wait`), so it is found a few seconds later than it would be by
 * reading everything; a healthy job is opened, inserted and completed within
 * about two seconds (INSERT_FLUSH_MS plus the insert), or taken from the head
 * of `wait`, and is never read. Reading every job each sweep cost a share of
 * the worker's thread in proportion to the throughput (each job's sealed data
 * fetched and parsed again: megabytes a sweep at full load).
 */
import type { Redis } from './redis.js';

/** How many of the oldest waiting jobs each sweep also looks at (active holds at most the workers' concurrency). */
const WAIT_HEAD = 200;

/** Sweeps in a row that must have seen a job before it is read (the first sight included). */
export const STAYED_SWEEPS = 3;

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
  /** The ids the previous sweep saw in `active` or at the head of `wait`, with how many sweeps in a row saw them. */
  private seen = new Map<string, number>();

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
    const now = new Map<string, number>();
    for (const id of [...active, ...waiting]) now.set(id, (this.seen.get(id) ?? 0) + 1);
    this.seen = now;
    // Only the ids that have stayed put (see the header).
    const ids = [...now].filter(([, sweeps]) => sweeps >= STAYED_SWEEPS).map(([id]) => id);
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
