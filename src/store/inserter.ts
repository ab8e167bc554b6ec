/**
 * Batched inserts into `events`. ClickHouse wants few, large inserts, so rows
 * from many jobs are buffered and written together when the buffer reaches
 * INSERT_BATCH_ROWS or INSERT_FLUSH_MS after its first row. Each caller's
 * promise settles only when the insert holding its rows has succeeded (or
 * failed): a job completes only after its rows are durably in ClickHouse.
 *
 * JSONCompactEachRow: the cheapest format the client supports for inserts
 * (about twice as fast to serialise as JSONEachRow).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RawInsert } from './client.js';
import type { EventRow } from '../anonymise/types.js';
import { GroupCommit } from '../lib/group-commit.js';

// The column list and the JSONCompactEachRow encoder come from the events column table (src/anonymise/row.ts).
import { EVENT_COLUMNS, encodeRows } from '../anonymise/row.js';
export { EVENT_COLUMNS, encodeRows, rowToCompact } from '../anonymise/row.js';

export interface InsertStats {
  rows: number;
  ms: number;
}

export interface InserterOptions {
  batchRows: number;
  flushMs: number;
  /**
   * The most contributions (jobs) that can wait on this inserter at once: the
   * worker's concurrency. Once that many wait (buffered or in an insert in
   * flight), no further row can arrive before an insert completes, so the
   * buffer is written at once instead of at the end of flushMs. Without it,
   * small jobs (one-event requests) would cap throughput at
   * concurrency jobs per flushMs. Unset: size and time only.
   */
  maxWaiting?: number;
  /** Retries of one insert inside the process, with the same deduplication token. */
  retries?: number;
  /** The store's raw insert (embedded mode), used instead of the client's exec when given. */
  rawInsert?: RawInsert;
  onInsert?: (s: InsertStats) => void;
  onFailure?: (err: unknown) => void;
  now?: () => number;
}

/** One job's rows, waiting for an insert. */
interface Contribution {
  /** The rows already encoded, as JSONCompactEachRow text (as bytes for a raw insert). */
  text: string | Buffer;
  rows: number;
  /** Names the contribution in the deduplication token (see EventInserter.add). */
  key: string;
}

export class InsertError extends Error {
  override readonly name = 'InsertError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The buffer is a group commit (src/lib/group-commit.ts): one commit is one
 * INSERT, written at batchRows rows, flushMs after its first row, or at once
 * when maxWaiting contributions wait; each add settles with its own insert.
 */
export class EventInserter {
  private readonly inserts: GroupCommit<Contribution>;
  lastInsertAt = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly opts: InserterOptions,
  ) {
    this.inserts = new GroupCommit<Contribution>({
      maxSize: opts.batchRows,
      sizeOf: (c) => c.rows,
      maxDelayMs: opts.flushMs,
      maxWaiting: opts.maxWaiting,
      commit: (contributions) => this.write(contributions),
    });
  }

  /**
   * Buffers `rows` (already anonymised) and resolves once they are inserted.
   * `key` names the contribution and goes into the deduplication token, so a
   * retry of the same insert is a no-op in ClickHouse. It must be unique to
   * these rows for as long as ClickHouse remembers tokens
   * (non_replicated_deduplication_window): a reused token with different rows
   * is silently dropped. The worker passes the job's random nonce (see
   * insertKey in src/queue/job.ts), never a BullMQ job id, which repeats after
   * a Redis rollback and across queues.
   */
  add(rows: EventRow[], key: string, opts: { isolated?: boolean } = {}): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    // Encoded now, a job's rows at a time: encoding a whole batch at flush time would hold the event loop (and
    // with it the collector in the all-in-one) for tens of milliseconds.
    const text = encodeRows(rows);
    const contribution: Contribution = { text: this.opts.rawInsert ? Buffer.from(text) : text, rows: rows.length, key };
    // An isolated contribution is inserted on its own, at once: its failure fails no other job's rows.
    return opts.isolated ? this.inserts.addAlone(contribution) : this.inserts.add(contribution);
  }

  /** Writes the current buffer now. */
  flush(): void {
    this.inserts.flush();
  }

  private async write(contributions: Contribution[]): Promise<void> {
    // A hash: the keys of a large batch would make a long token, and it is quoted into the statement.
    const token = createHash('sha256').update(contributions.map((c) => c.key).join(',')).digest('hex').slice(0, 32);
    const rows = contributions.reduce((n, c) => n + c.rows, 0);
    const retries = this.opts.retries ?? 1;
    const now = this.opts.now ?? Date.now;
    for (let attempt = 0; ; attempt++) {
      const t0 = now();
      try {
        // The token goes into the statement's own SETTINGS clause, not clickhouse_settings: the embedded
        // connection turns those into session-wide `SET`s, and a token left on the session would silently
        // deduplicate (drop) later, different inserts. The rows are encoded already (add), so the statement
        // goes through exec with the text as its body: `insert` would encode an array at flush time.
        if (this.opts.rawInsert) {
          const body = Buffer.concat(contributions.map((c) => c.text as Buffer));
          await this.opts.rawInsert({ table: 'events', columns: EVENT_COLUMNS, body, settings: { insert_deduplication_token: token } });
        } else {
          const { stream } = await this.client.exec({
            query: `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) SETTINGS insert_deduplication_token = '${token}' FORMAT JSONCompactEachRow`,
            values: Readable.from(contributions.map((c) => c.text), { objectMode: false }),
          });
          // An INSERT answers nothing, but the response must be read to free the connection (server mode).
          stream.resume();
        }
        this.lastInsertAt = now();
        this.opts.onInsert?.({ rows, ms: now() - t0 });
        return;
      } catch (err) {
        this.opts.onFailure?.(err);
        if (attempt >= retries) throw new InsertError(`insert of ${rows} rows failed: ${(err as Error).message.slice(0, 300)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  /** From now on every add flushes at once; waits for what is in flight. */
  drain(): Promise<void> {
    return this.inserts.drain();
  }
}
