/**
 * What the anonymiser worker does with one queue job, as a list of steps:
 *   1. open the seal                                   src/queue/job.ts
 *   2. check who signed it (when workers require it)   src/queue/signing.ts
 *   3. check every request as the collector did        src/wire/collected.ts
 *   4. refuse a copy of a job taken before             src/queue/replay-guard.ts
 *   5. per collected request: the salt of its day      src/anonymise/salts.ts
 *   6. anonymise it (in slices of a few ms)            src/anonymise/pipeline.ts
 *   7. on redelivery, skip rows already stored         src/store/dedup.ts
 *   8. hand the rows to the batched inserter and wait  src/store/inserter.ts
 * The job completes once the insert holding its rows did. A job that fails
 * steps 1–4 was not written by a collector: it is dead-lettered at once
 * (PermanentJobError with a typed reason, counted), never retried. Insert
 * failures are classified on ClickHouse's error codes (src/store/errors.ts):
 * the store is down → DependencyUnavailableError (the job waits, attempts
 * kept); the rows are refused → PermanentJobError; anything else → retry.
 */
import type { AnonymisedRequest } from '../anonymise/pipeline.js';
import type { EventRow } from '../anonymise/types.js';
import type { SaltRing } from '../anonymise/salts.js';
import type { Metrics } from '../observe/metrics.js';
import { DependencyUnavailableError, PermanentJobError, type QueuedJob } from '../queue/consumer.js';
import { insertKey, openJob, type OpenedJob } from '../queue/job.js';
import type { Claim } from '../queue/replay-guard.js';
import type { Unsealer } from '../queue/seal.js';
import type { JobVerifier } from '../queue/signing.js';
import type { ClickHouseClient } from '../store/client.js';
import { withoutStoredRows } from '../store/dedup.js';
import { rowsRejected, storeWideFailure } from '../store/errors.js';
import { checkCollected, JOB_REJECTION_TEXT, type JobRejection } from '../wire/collected.js';
import type { CollectedRequest } from '../wire/types.js';

/** Anonymises one collected request; `at` says which request of its job it is (fault wrappers use it). */
export type AnonymiseStep = (req: CollectedRequest, salt: Buffer, at: { index: number; of: number }) => AnonymisedRequest;

/** Where a job's rows go: resolves once they are durably stored (src/store/inserter.ts). */
export interface RowSink {
  add(rows: EventRow[], key: string, opts?: { isolated?: boolean }): Promise<void>;
}

/** What a worker admits: its sites, its clock window, whose signatures it wants, and what it has taken before. */
export interface JobAdmission {
  sites: Readonly<Record<string, readonly string[]>>;
  maxAgeMs: number;
  verifier: JobVerifier;
  replays: { claim(sealed: string, jobId: string, receivedAt: number): Promise<Claim> };
  now?: () => number;
}

export interface JobProcessorDeps {
  unsealer: Unsealer;
  admission: JobAdmission;
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
    const reqs = await admit(job, deps);
    const firstDelivery = job.attemptsStarted <= 1 && job.attemptsMade === 0;
    let rows: EventRow[] = [];
    let slice = performance.now();
    for (const [index, req] of reqs.entries()) {
      // A big job (up to GROUP_COMMIT_MAX_EVENTS) is anonymised in slices of a few milliseconds, so the event loop
      // (in the all-in-one, the collector's too) keeps answering meanwhile.
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      // 5–6.
      const { salt, late } = await deps.salts.saltFor(req.ctx.receivedAt);
      const out = deps.anonymise(req, salt, { index, of: reqs.length });
      for (const r of out.rows) rows.push(r);
      // Counted once per job, not once per delivery.
      if (firstDelivery) {
        for (const [reason, n] of Object.entries(out.dropped) as [string, number | undefined][]) if (n) deps.metrics.eventsDropped.inc({ reason }, n);
        for (const [reason, n] of Object.entries(out.valuesDropped ?? {}) as [string, number | undefined][]) if (n) deps.metrics.valuesDropped.inc({ reason }, n);
        if (out.unknownIp) deps.metrics.unknownIp.inc(out.unknownIp);
        if (late) deps.metrics.lateSalt.inc(out.rows.length);
      }
    }
    // 7. Delivered before (a retry, a worker killed holding it, a pause for an outage): skip rows already stored.
    if (!firstDelivery) rows = await storeCall(deps.client, () => withoutStoredRows(deps.client, rows));
    // 8. A job that failed before is inserted on its own, so one poison job cannot keep failing the batches of
    // others, and its own failure can be told apart from theirs.
    const isolated = job.attemptsMade > 0;
    try {
      await storeCall(deps.client, () => deps.inserter.add(rows, insertKey(job.data, job.id), { isolated }));
    } catch (err) {
      if (err instanceof DependencyUnavailableError) throw err;
      if (isolated && rowsRejected(err)) {
        // Only anonymised data can appear in this message: the job's rows, never its sealed context.
        throw new PermanentJobError(`ClickHouse rejected the job's rows: ${(err as Error).message.slice(0, 300)}`, { cause: err, reason: 'rows_rejected' });
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

/** A job refused before anything of it is used: why, in fixed words, and counted by reason. */
function refuse(reason: JobRejection, metrics: Metrics, cause?: unknown): PermanentJobError {
  metrics.jobsRejected.inc({ reason });
  return new PermanentJobError(`refused: ${JOB_REJECTION_TEXT[reason]}`, { cause, reason });
}

/** Steps 1–4: the requests of a job a collector really wrote, checked and copied, or a PermanentJobError. */
async function admit(job: QueuedJob, deps: JobProcessorDeps): Promise<CollectedRequest[]> {
  const a = deps.admission;
  // 1. A job that cannot be opened never will be: dead-letter it (still sealed).
  let opened: OpenedJob;
  try {
    opened = openJob(deps.unsealer, job.data);
  } catch (err) {
    throw new PermanentJobError(`cannot open job: ${(err as Error).message}`, { cause: err, reason: 'unopenable' });
  }
  // 2.
  const signed = a.verifier.check(opened.body, opened.signature);
  if (signed !== 'ok') throw refuse(signed, deps.metrics);
  // 3.
  const checked = checkCollected(opened.payload.reqs, a.sites, { now: (a.now ?? Date.now)(), maxAgeMs: a.maxAgeMs });
  if (!checked.ok) throw refuse(checked.reason, deps.metrics);
  // 4. After the checks, so junk never fills the guard's memory.
  if ((await a.replays.claim(job.data.s, job.id, checked.receivedFrom)) === 'replay') throw refuse('replay', deps.metrics);
  return checked.requests;
}
