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
import type { EventRow } from '../anonymise/types.js';

export const EVENT_COLUMNS = [
  'site', 'ts', 'type', 'event_id', 'pageview_id', 'visitor_id', 'host', 'path', 'query',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'referrer_host', 'referrer_path',
  'ip_prefix', 'browser', 'browser_major', 'os', 'os_major', 'device_type', 'device_vendor', 'language',
  'viewport_w', 'viewport_h', 'click_selector', 'click_label', 'click_x', 'click_y', 'page_x', 'page_y',
  'visible_ms', 'scroll_depth', 'custom_name', 'custom_props',
] as const satisfies readonly (keyof EventRow)[];

export function rowToCompact(r: EventRow): unknown[] {
  return [
    r.site, r.ts, r.type, r.event_id, r.pageview_id, r.visitor_id, r.host, r.path, r.query,
    r.utm_source, r.utm_medium, r.utm_campaign, r.utm_term, r.utm_content, r.referrer_host, r.referrer_path,
    r.ip_prefix, r.browser, r.browser_major, r.os, r.os_major, r.device_type, r.device_vendor, r.language,
    r.viewport_w, r.viewport_h, r.click_selector, r.click_label, r.click_x, r.click_y, r.page_x, r.page_y,
    r.visible_ms, r.scroll_depth, r.custom_name, r.custom_props,
  ];
}

/** Rows as JSONCompactEachRow text: one JSON array a line, columns in EVENT_COLUMNS order. */
export function encodeRows(rows: readonly EventRow[]): string {
  let text = '';
  for (const r of rows) text += JSON.stringify(rowToCompact(r)) + '\n';
  return text;
}

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
  onInsert?: (s: InsertStats) => void;
  onFailure?: (err: unknown) => void;
  now?: () => number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Buffer_ {
  /** The rows already encoded, one JSONCompactEachRow text per contribution. */
  text: string[];
  rows: number;
  keys: string[];
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

export class InsertError extends Error {
  override readonly name = 'InsertError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class EventInserter {
  private buf: Buffer_ | undefined;
  private inFlight = new Set<Promise<void>>();
  /** Contributions in inserts that have not completed yet. */
  private waitingInFlight = 0;
  private draining = false;
  lastInsertAt = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly opts: InserterOptions,
  ) {}

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
    if (opts.isolated) {
      const own: Buffer_ = { text: [encodeRows(rows)], rows: rows.length, keys: [key], waiters: [], timer: undefined };
      return this.track(this.write(own));
    }
    let b = this.buf;
    if (!b) {
      b = this.buf = { text: [], rows: 0, keys: [], waiters: [], timer: undefined };
      if (!this.draining) b.timer = setTimeout(() => this.flush(), this.opts.flushMs);
    }
    // Encoded now, a job's rows at a time: encoding a whole batch at flush time would hold the event loop (and
    // with it the collector in the all-in-one) for tens of milliseconds.
    b.text.push(encodeRows(rows));
    b.rows += rows.length;
    b.keys.push(key);
    const p = new Promise<void>((resolve, reject) => b.waiters.push({ resolve, reject }));
    const everyoneWaits = this.opts.maxWaiting !== undefined && b.keys.length + this.waitingInFlight >= this.opts.maxWaiting;
    if (this.draining || b.rows >= this.opts.batchRows || everyoneWaits) this.flush();
    return p;
  }

  /** Writes the current buffer now. */
  flush(): void {
    const b = this.buf;
    if (!b) return;
    this.buf = undefined;
    if (b.timer) clearTimeout(b.timer);
    this.waitingInFlight += b.keys.length;
    void this.track(
      this.write(b)
        .finally(() => {
          this.waitingInFlight -= b.keys.length;
        })
        .then(
          () => b.waiters.forEach((w) => w.resolve()),
          (err) => {
            b.waiters.forEach((w) => w.reject(err));
          },
        ),
    );
  }

  private track(task: Promise<void>): Promise<void> {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task)).catch(() => {});
    return task;
  }

  private async write(b: Buffer_): Promise<void> {
    // A hash: the keys of a large batch would make a long token, and it is quoted into the statement.
    const token = createHash('sha256').update(b.keys.join(',')).digest('hex').slice(0, 32);
    const retries = this.opts.retries ?? 1;
    const now = this.opts.now ?? Date.now;
    for (let attempt = 0; ; attempt++) {
      const t0 = now();
      try {
        // The token goes into the statement's own SETTINGS clause, not clickhouse_settings: the embedded
        // connection turns those into session-wide `SET`s, and a token left on the session would silently
        // deduplicate (drop) later, different inserts. The rows are encoded already (add), so the statement
        // goes through exec with the text as its body: `insert` would encode an array at flush time.
        const { stream } = await this.client.exec({
          query: `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) SETTINGS insert_deduplication_token = '${token}' FORMAT JSONCompactEachRow`,
          values: Readable.from(b.text, { objectMode: false }),
        });
        // An INSERT answers nothing, but the response must be read to free the connection (server mode).
        stream.resume();
        this.lastInsertAt = now();
        this.opts.onInsert?.({ rows: b.rows, ms: now() - t0 });
        return;
      } catch (err) {
        this.opts.onFailure?.(err);
        if (attempt >= retries) throw new InsertError(`insert of ${b.rows} rows failed: ${(err as Error).message.slice(0, 300)}`, { cause: err });
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  /** From now on every add flushes at once; waits for what is in flight. */
  async drain(): Promise<void> {
    this.draining = true;
    this.flush();
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }
}
