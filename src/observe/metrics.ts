/**
 * Prometheus metrics (prom-client). One registry per process so tests can run
 * several pipelines side by side. Labels are bounded enums: never a site
 * visitor's value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    eventsAccepted: new Counter({ name: 'anon_events_accepted_total', help: 'Events acknowledged with 202 and handed to Redis', registers: [registry] }),
    eventsRejected: new Counter({ name: 'anon_events_rejected_total', help: 'Events refused by validation', registers: [registry] }),
    eventsDropped: new Counter({ name: 'anon_events_dropped_total', help: 'Events dropped on purpose (consent, bot, ...)', labelNames: ['reason'] as const, registers: [registry] }),
    requests: new Histogram({
      name: 'anon_collect_request_seconds',
      help: 'Latency of POST /collect by status',
      labelNames: ['status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    queueWaiting: new Gauge({ name: 'anon_queue_waiting_jobs', help: 'Jobs waiting in the queue', registers: [registry] }),
    queueActive: new Gauge({ name: 'anon_queue_active_jobs', help: 'Jobs being processed', registers: [registry] }),
    queueFailed: new Gauge({ name: 'anon_queue_failed_jobs', help: 'Jobs in the dead-letter (failed) set', registers: [registry] }),
    queueOldestAge: new Gauge({ name: 'anon_queue_oldest_waiting_seconds', help: 'Age of the oldest waiting job', registers: [registry] }),
    rowsInserted: new Counter({ name: 'anon_rows_inserted_total', help: 'Rows inserted into ClickHouse', registers: [registry] }),
    insertBatchRows: new Histogram({
      name: 'anon_insert_batch_rows',
      help: 'Rows per ClickHouse insert',
      buckets: [1, 10, 100, 1000, 5000, 10000, 20000, 50000, 100000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'anon_insert_seconds',
      help: 'Latency of one ClickHouse insert',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    insertFailures: new Counter({ name: 'anon_insert_failures_total', help: 'Failed ClickHouse inserts', registers: [registry] }),
    unknownIp: new Counter({ name: 'anon_ip_refused_total', help: 'Client addresses refused as non-canonical and stored as unknown', registers: [registry] }),
    lateSalt: new Counter({ name: 'anon_late_events_total', help: 'Events older than the salt window, hashed with a one-off salt', registers: [registry] }),
    jobsFailed: new Counter({ name: 'anon_jobs_failed_total', help: 'Job attempts that failed', labelNames: ['final'] as const, registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
