/**
 * Group commit: many callers, one write.
 *
 * Design note:
 * - Why: the pipeline's writes cost per call far more than per item (a Redis
 *   round trip and fsync for a queue job, a ClickHouse insert and its part, a
 *   Lua script call for rate counters). Items that arrive close together are
 *   gathered into one batch and written by a single `commit(items)`, so the
 *   cost per item falls as load rises, while a lone item waits at most
 *   `maxDelayMs`.
 * - When a batch is committed: once its size reaches `maxSize` (size of an
 *   item: `sizeOf`, 1 unless given); `maxDelayMs` after its first item (0: at
 *   the next turn of the event loop, so everything arriving in this turn
 *   shares the write); at once when `maxWaiting` callers wait (open batch plus
 *   commits in flight: nobody is left who could add to it, so waiting longer
 *   only adds latency); on `flush()`; and, once `drain()` was called, at every
 *   add.
 * - Guarantees:
 *   - Each caller's promise settles with the outcome of the one commit that
 *     carried its item: it resolves with that commit's result only after the
 *     commit succeeded, and rejects with that commit's error, never sooner.
 *   - An error (a rejection, or a synchronous throw of `commit`) rejects
 *     exactly the callers of that commit; other batches are not touched.
 *   - Nothing accepted is dropped: every added item goes into exactly one
 *     commit, in the order it was added; items added during a commit go into
 *     the next batch (commits may overlap: this does not wait for one commit
 *     to finish before starting the next).
 *   - `drain()` resolves only when no commit is in flight, including commits
 *     of items added while it waited.
 * - Not here: retries, timeouts and refusing new items (closed, overloaded)
 *   belong to the caller's `commit` and its own add path.
 */

export interface GroupCommitOptions<T, R> {
  /**
   * Writes one batch (never empty; the array is the commit's own). Its
   * result, or its error, settles the promises of exactly the callers whose
   * items it carries.
   */
  commit: (items: T[]) => Promise<R>;
  /** The batch is committed once its size reaches this. */
  maxSize: number;
  /** Size of one item (e.g. its events or rows); 1 when unset. */
  sizeOf?: (item: T) => number;
  /** The batch is committed this long after its first item; 0 = at the next turn of the event loop. */
  maxDelayMs: number;
  /**
   * The most callers that can wait at once (e.g. a worker's concurrency). Once
   * that many wait (in the open batch or in commits in flight), no further
   * item can arrive before a commit completes, so the open batch is committed
   * at once. Unset: size and time only.
   */
  maxWaiting?: number;
}

interface Caller<R> {
  resolve: (outcome: R) => void;
  reject: (err: unknown) => void;
}

interface OpenBatch<T, R> {
  items: T[];
  callers: Caller<R>[];
  size: number;
  cancelTimer: () => void;
}

export class GroupCommit<T, R = void> {
  private open: OpenBatch<T, R> | undefined;
  /** Commits that have not settled their callers yet (each task never rejects). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Callers whose items are in commits in flight. */
  private callersInFlight = 0;
  private draining = false;

  constructor(private readonly opts: GroupCommitOptions<T, R>) {}

  /** Callers whose promise has not settled: items in the open batch plus items in commits in flight. */
  get waiting(): number {
    return (this.open?.items.length ?? 0) + this.callersInFlight;
  }

  /** Commits in flight. */
  get committing(): number {
    return this.inFlight.size;
  }

  /** Adds `item` to the open batch; settles with the outcome of the commit that carries it. */
  add(item: T): Promise<R> {
    const batch = this.open ?? this.openBatch();
    batch.items.push(item);
    batch.size += this.opts.sizeOf ? this.opts.sizeOf(item) : 1;
    const outcome = new Promise<R>((resolve, reject) => batch.callers.push({ resolve, reject }));
    const everyoneWaits = this.opts.maxWaiting !== undefined && this.waiting >= this.opts.maxWaiting;
    if (this.draining || batch.size >= this.opts.maxSize || everyoneWaits) this.flush();
    return outcome;
  }

  /**
   * Commits `item` at once in a batch of its own, leaving the open batch as it
   * is: for an item whose failure must not fail others (or theirs, it). It
   * counts as waiting and `drain()` waits for it like any other commit.
   */
  addAlone(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => this.commit([item], [{ resolve, reject }]));
  }

  /** Commits the open batch now (nothing to do when there is none). */
  flush(): void {
    const batch = this.open;
    if (!batch) return;
    this.open = undefined;
    batch.cancelTimer();
    this.commit(batch.items, batch.callers);
  }

  /** From now on every add commits at once; commits the open batch and waits until no commit is in flight. */
  async drain(): Promise<void> {
    this.draining = true;
    this.flush();
    // Settling a commit's callers may make them add again (committed at once, as draining): wait for those too.
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private openBatch(): OpenBatch<T, R> {
    const batch: OpenBatch<T, R> = { items: [], callers: [], size: 0, cancelTimer: () => {} };
    const commitThis = () => {
      if (this.open === batch) this.flush();
    };
    if (this.opts.maxDelayMs > 0) {
      const timer = setTimeout(commitThis, this.opts.maxDelayMs);
      batch.cancelTimer = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(commitThis);
      batch.cancelTimer = () => clearImmediate(immediate);
    }
    this.open = batch;
    return batch;
  }

  private commit(items: T[], callers: readonly Caller<R>[]): void {
    this.callersInFlight += callers.length;
    let written: Promise<R>;
    try {
      written = this.opts.commit(items);
    } catch (err) {
      written = Promise.reject(err);
    }
    // The commit is forgotten before its callers hear of it: a caller that adds again at once must not be
    // counted as waiting twice.
    const done = () => {
      this.inFlight.delete(task);
      this.callersInFlight -= callers.length;
    };
    const task: Promise<void> = written.then(
      (outcome) => {
        done();
        for (const c of callers) c.resolve(outcome);
      },
      (err: unknown) => {
        done();
        for (const c of callers) c.reject(err);
      },
    );
    this.inFlight.add(task);
  }
}
