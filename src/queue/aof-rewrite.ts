/**
 * Redis persistence housekeeping: after a day's salt has expired, rewrite the
 * AOF so the file no longer holds it.
 *
 * Why: the AOF is a log. A salt that expired (and a completed job, a purged
 * dead letter) is gone from Redis' memory but stays in the AOF, as it was
 * written, until the file is rewritten; Redis rewrites on its own only when
 * the file has grown by `auto-aof-rewrite-percentage`, which for a small
 * queue may take weeks. A salt in an old AOF, together with the workers'
 * private key, links that day's visitor ids again. One salt expires at every
 * UTC midnight (src/anonymise/salts.ts), so once per UTC day, after
 * midnight, one worker asks for `BGREWRITEAOF`; the rewritten file holds only
 * what is alive (today's and yesterday's salts, waiting jobs).
 *
 * Which worker: the first one whose hourly check finds no marker for the day
 * (`SET NX` on `<prefix>:aof-rewrite:<YYYY-MM-DD>`, expiring after two
 * days). Nothing is done when AOF is off (RDB snapshots are whole new files;
 * docs/operations.md §5 says what to do about old ones). A Redis that refuses
 * the command (a managed service renaming it) is reported, never fatal.
 */
import { isCluster, type Redis } from './redis.js';

const DAY_MS = 86_400_000;

export type AofRewriteOutcome = 'rewritten' | 'aof_off' | 'done_today' | 'in_progress';

export interface AofHousekeeping {
  /** Checks once: asks for a rewrite when AOF is on and today's has not been asked for yet. */
  run(): Promise<AofRewriteOutcome>;
}

export function aofHousekeeping(redis: Redis, prefix: string, now: () => number = Date.now): AofHousekeeping {
  return {
    async run() {
      // A Redis Cluster: every node (primaries and replicas) keeps an AOF of its own, and each is rewritten.
      const nodes = isCluster(redis) ? redis.nodes('all') : [redis];
      const infos = await Promise.all(nodes.map((node) => node.info('persistence')));
      const withAof = nodes.filter((_, i) => /^aof_enabled:1\b/m.test(infos[i]!));
      if (withAof.length === 0) return 'aof_off';
      if (infos.some((info) => /^aof_rewrite_in_progress:1\b/m.test(info))) return 'in_progress';
      const t = now();
      const day = new Date(t).toISOString().slice(0, 10);
      const marker = `${prefix}:aof-rewrite:${day}`;
      // The day's salt expired at this UTC midnight; the marker lives until the next one has passed too.
      const set = await redis.set(marker, '1', 'PXAT', (Math.floor(t / DAY_MS) + 2) * DAY_MS, 'NX');
      if (set !== 'OK') return 'done_today';
      try {
        for (const node of withAof) await node.bgrewriteaof();
      } catch (err) {
        // Let the next hourly check try again (e.g. a rewrite that another client started in between).
        await redis.del(marker).catch(() => {});
        throw err;
      }
      return 'rewritten';
    },
  };
}
