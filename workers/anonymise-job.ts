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
import { PermanentJobError, type QueuedJob } from '../src/queue/consumer.js';
import { openJob, type JobPayload } from '../src/queue/job.js';
import type { Unsealer } from '../src/queue/seal.js';
import { existingEventIds, type EventInserter } from '../src/store/inserter.js';
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
    let rows: EventRow[] = [];
    for (const req of payload.reqs) {
      const { salt, late } = await deps.salts.saltFor(req.ctx.receivedAt);
      const out = anonymiseRequest(req, salt, { config: deps.config, device: deps.device });
      for (const r of out.rows) rows.push(r);
      if (firstDelivery) {
        for (const [reason, n] of Object.entries(out.dropped) as [string, number | undefined][]) if (n) deps.metrics.eventsDropped.inc({ reason }, n);
        if (out.unknownIp) deps.metrics.unknownIp.inc(out.unknownIp);
        if (late) deps.metrics.lateSalt.inc(out.rows.length);
      }
    }
    if (!firstDelivery) rows = await withoutStoredRows(deps.client, rows);
    // A retried job is inserted on its own, so one poison job cannot keep failing the batches of others.
    await deps.inserter.add(rows, job.id, { isolated: !firstDelivery });
  };
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
