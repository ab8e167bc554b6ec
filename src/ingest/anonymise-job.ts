/**
 * What the anonymiser worker does with one queue job, as a list of steps:
 *   1. open the seal                                   src/queue/job.ts
 *   2. per collected request: the salt of its day      src/anonymise/salts.ts
 *   3. anonymise it (in slices of a few ms)            src/anonymise/pipeline.ts
 *   4. on redelivery, skip rows already stored         src/store/dedup.ts
 *   5. hand the rows to the batched inserter and wait  src/store/inserter.ts
 * The job completes once the insert holding its rows did. Failures are
 * classified on ClickHouse's error codes (src/store/errors.ts): the store is
 * down → DependencyUnavailableError (the job waits, attempts kept); the rows
 * are refused → PermanentJobError (dead letter); anything else → retry.
 */
import type { AnonymisedRequest } from '../anonymise/pipeline.js';
import type { EventRow } from '../anonymise/types.js';
import type { SaltRing } from '../anonymise/salts.js';
import type { Metrics } from '../observe/metrics.js';
import { DependencyUnavailableError, PermanentJobError, type QueuedJob } from '../queue/consumer.js';
import { insertKey, openJob, type JobPayload } from '../queue/job.js';
import type { Unsealer } from '../queue/seal.js';
import type { ClickHouseClient } from '../store/client.js';
import { withoutStoredRows } from '../store/dedup.js';
import { rowsRejected, storeWideFailure } from '../store/errors.js';
import type { CollectedRequest } from '../wire/types.js';

/** Anonymises one collected request; `at` says which request of its job it is (fault wrappers use it). */
export type AnonymiseStep = (req: CollectedRequest, salt: Buffer, at: { index: number; of: number }) => AnonymisedRequest;

/** Where a job's rows go: resolves once they are durably stored (src/store/inserter.ts). */
export interface RowSink {
  add(rows: EventRow[], key: string, opts?: { isolated?: boolean }): Promise<void>;
}

export interface JobProcessorDeps {
  unsealer: Unsealer;
  salts: SaltRing;
  anonymise: AnonymiseStep;
  inserter: RowSink;
  client: ClickHouseClient;
  metrics: Metrics;
}

/** Longest stretch of anonymisation before the event loop gets a turn. */
const SLICE_MS = 4;

export function createJobProcessor(deps: JobProcessorDeps): (job: QueuedJob) => Promise<void> {
  return async (job) => {
    // 1. A job that cannot be opened never will be: dead-letter it (still sealed).
    let payload: JobPayload;
    try {
      payload = openJob(deps.unsealer, job.data);
    } catch (err) {
      throw new PermanentJobError(`cannot open job: ${(err as Error).message}`, { cause: err });
    }
    const firstDelivery = job.attemptsStarted <= 1 && job.attemptsMade === 0;
    let rows: EventRow[] = [];
    let slice = performance.now();
    for (const [index, req] of payload.reqs.entries()) {
      // A big job (up to GROUP_COMMIT_MAX_EVENTS) is anonymised in slices of a few milliseconds, so the event loop
      // (in the all-in-one, the collector's too) keeps answering meanwhile.
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      // 2–3.
      const { salt, late } = await deps.salts.saltFor(req.ctx.receivedAt);
      const out = deps.anonymise(req, salt, { index, of: payload.reqs.length });
      for (const r of out.rows) rows.push(r);
      // Counted once per job, not once per delivery.
      if (firstDelivery) {
        for (const [reason, n] of Object.entries(out.dropped) as [string, number | undefined][]) if (n) deps.metrics.eventsDropped.inc({ reason }, n);
        if (out.unknownIp) deps.metrics.unknownIp.inc(out.unknownIp);
        if (late) deps.metrics.lateSalt.inc(out.rows.length);
      }
    }
    // 4. Delivered before (a retry, a worker killed holding it, a pause for an outage): skip rows already stored.
    if (!firstDelivery) rows = await storeCall(deps.client, () => withoutStoredRows(deps.client, rows));
    // 5. A job that failed before is inserted on its own, so one poison job cannot keep failing the batches of
    // others, and its own failure can be told apart from theirs.
    const isolated = job.attemptsMade > 0;
    try {
      await storeCall(deps.client, () => deps.inserter.add(rows, insertKey(job.data, job.id), { isolated }));
    } catch (err) {
      if (err instanceof DependencyUnavailableError) throw err;
      if (isolated && rowsRejected(err)) {
        // Only anonymised data can appear in this message: the job's rows, never its sealed context.
        throw new PermanentJobError(`ClickHouse rejected the job's rows: ${(err as Error).message.slice(0, 300)}`, { cause: err });
      }
      throw err;
    }
  };
}

/**
 * Runs a store call; when it fails with a store-wide error code, or ClickHouse
 * does not answer a ping either, the failure is the store's, not the job's:
 * DependencyUnavailableError (the job waits without using up an attempt).
 */
async function storeCall<T>(client: ClickHouseClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const condition = storeWideFailure(err);
    if (condition) throw new DependencyUnavailableError(`ClickHouse cannot take writes (${condition}): ${(err as Error).message.slice(0, 200)}`, 'clickhouse', { cause: err });
    const ping = await client.ping().catch((e: unknown) => ({ success: false as const, error: e }));
    if (!ping.success) throw new DependencyUnavailableError(`ClickHouse unavailable: ${(err as Error).message.slice(0, 200)}`, 'clickhouse', { cause: err });
    throw err;
  }
}
