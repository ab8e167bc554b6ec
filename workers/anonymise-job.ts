/**
 * What the anonymiser worker does with one queue job, in order:
 *   open the seal → for each collected request: salt of its day → anonymise
 *   (src/anonymise/pipeline.ts) → on redelivery, skip rows already stored →
 *   buffer for a batched insert → the job completes once the insert did.
 */
import type { AnonymiseConfig, EventRow } from '../src/anonymise/types.js';
import { anonymiseRequest } from '../src/anonymise/pipeline.js';
import type { DeviceParser } from '../src/anonymise/device.js';
import type { SaltRing } from '../src/anonymise/salts.js';
import type { JobFaults } from '../src/app/faults.js';
import { DependencyUnavailableError, PermanentJobError, type QueuedJob } from '../src/queue/consumer.js';
import { insertKey, openJob, type JobPayload } from '../src/queue/job.js';
import type { Unsealer } from '../src/queue/seal.js';
import { existingEventIds, InsertError, type EventInserter } from '../src/store/inserter.js';
import type { ClickHouseClient } from '../src/store/client.js';
import type { Metrics } from '../src/observe/metrics.js';

export interface JobProcessorDeps {
  unsealer: Unsealer;
  salts: SaltRing;
  device: DeviceParser;
  config: AnonymiseConfig;
  inserter: EventInserter;
  client: ClickHouseClient;
  metrics: Metrics;
  /** Test-only fault hooks (src/app/faults.ts); absent in production. */
  faults?: JobFaults;
}

/**
 * ClickHouse error codes that mean "these rows are wrong" (parse and type
 * errors, constraint violations): retrying the same rows cannot help.
 */
const DATA_REJECTED = new Set([6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 469]);

/**
 * ClickHouse error codes that mean "the store cannot take writes right now",
 * whatever the rows: not the job's fault. The embedded store's ping is an
 * in-process SELECT 1 that still succeeds with a full disk, a read-only data
 * directory or the memory limit reached, so the code decides, not the ping.
 */
const STORE_UNAVAILABLE: ReadonlyMap<number, string> = new Map([
  [159, 'TIMEOUT_EXCEEDED'],
  [164, 'READONLY'],
  [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [236, 'ABORTED'],
  [241, 'MEMORY_LIMIT_EXCEEDED'],
  [242, 'TABLE_IS_READ_ONLY'],
  [243, 'NOT_ENOUGH_SPACE'],
  [252, 'TOO_MANY_PARTS'],
  [999, 'KEEPER_EXCEPTION'],
]);

/** Longest stretch of anonymisation before the event loop gets a turn. */
const SLICE_MS = 4;

export function clickHouseErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number' && Number.isInteger(code)) return code;
  if (typeof code === 'string' && /^[0-9]+$/.test(code)) return Number(code);
  const m = /Code: ([0-9]+)\./.exec(String((err as Error | undefined)?.message ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** The store-wide condition behind a failed store call (an InsertError is judged by its cause), if any. */
export function storeWideFailure(err: unknown): string | undefined {
  const code = clickHouseErrorCode(err instanceof InsertError ? err.cause : err);
  return code === undefined ? undefined : STORE_UNAVAILABLE.get(code);
}

export function createJobProcessor(deps: JobProcessorDeps): (job: QueuedJob) => Promise<void> {
  return async (job) => {
    let payload: JobPayload;
    try {
      payload = openJob(deps.unsealer, job.data);
    } catch (err) {
      // A job that cannot be opened never will be: dead-letter it (still sealed).
      throw new PermanentJobError(`cannot open job: ${(err as Error).message}`, { cause: err });
    }
    const firstDelivery = job.attemptsStarted <= 1 && job.attemptsMade === 0;
    const faults = deps.faults;
    let rows: EventRow[] = [];
    let slice = performance.now();
    for (const [i, req] of payload.reqs.entries()) {
      // A big job (up to GROUP_COMMIT_MAX_EVENTS) is anonymised in slices of a few milliseconds, so the event loop
      // (in the all-in-one, the collector's too) keeps answering meanwhile.
      if (performance.now() - slice > SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      const { salt, late } = await deps.salts.saltFor(req.ctx.receivedAt);
      const out = anonymiseRequest(req, salt, { config: deps.config, device: deps.device });
      for (const r of out.rows) rows.push(r);
      if (firstDelivery) {
        for (const [reason, n] of Object.entries(out.dropped) as [string, number | undefined][]) if (n) deps.metrics.eventsDropped.inc({ reason }, n);
        if (out.unknownIp) deps.metrics.unknownIp.inc(out.unknownIp);
        if (late) deps.metrics.lateSalt.inc(out.rows.length);
      }
      // Mid-job for real: part of the job is anonymised and more of it is still to come.
      if (i === 0 && payload.reqs.length > 1) faults?.reach('mid-anonymise', `after request 1 of ${payload.reqs.length}`);
    }
    faults?.poison(rows);
    // Delivered before (a retry, a worker killed holding it, a pause for an outage): skip rows already stored.
    if (!firstDelivery) rows = await storeCall(deps.client, () => withoutStoredRows(deps.client, rows));
    faults?.reach('before-insert');
    // A job that failed before is inserted on its own, so one poison job cannot keep failing the batches of
    // others, and its own failure can be told apart from theirs.
    const isolated = job.attemptsMade > 0;
    try {
      await storeCall(deps.client, () => deps.inserter.add(rows, insertKey(job.data, job.id), { isolated }));
    } catch (err) {
      if (err instanceof DependencyUnavailableError) throw err;
      const code = clickHouseErrorCode(err instanceof InsertError ? err.cause : err);
      if (isolated && code !== undefined && DATA_REJECTED.has(code)) {
        // Only anonymised data can appear in this message: the job's rows, never its sealed context.
        throw new PermanentJobError(`ClickHouse rejected the job's rows: ${(err as Error).message.slice(0, 300)}`, { cause: err });
      }
      throw err;
    }
    faults?.reach('after-insert');
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

/** Drops rows whose event_id is already stored (a worker died after inserting, before completing). */
async function withoutStoredRows(client: ClickHouseClient, rows: EventRow[]): Promise<EventRow[]> {
  const bySite = new Map<string, string[]>();
  for (const r of rows) {
    let ids = bySite.get(r.site);
    if (!ids) bySite.set(r.site, (ids = []));
    ids.push(r.event_id);
  }
  const stored = new Set<string>();
  for (const [site, ids] of bySite) for (const id of await existingEventIds(client, site, ids)) stored.add(`${site}\u0000${id}`);
  return stored.size ? rows.filter((r) => !stored.has(`${r.site}\u0000${r.event_id}`)) : rows;
}
