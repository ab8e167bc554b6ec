/**
 * Prometheus metrics (prom-client). One registry per process so tests can run
 * several pipelines side by side. Labels are bounded enums: never a site
 * visitor's value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { watchLoopDelay } from './loop-delay.js';

/** What the queue gauges report; read at each scrape from the process's latest sample. */
export interface QueueGaugeSource {
  (): { waiting: number; active: number; failed: number; oldestWaitingAgeMs: number; sampledAt: number };
}

/** Why a whole /collect request was refused (bounded label values). */
export type RefusalReason =
  | 'bad_request'
  | 'forbidden'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited_address'
  | 'rate_limited_site'
  | 'overloaded'
  | 'queue_unavailable'
  | 'internal';

/**
 * `loop`: the name this thread's event-loop delay is reported under (loop-delay.ts); 'main' unless given.
 * A thread beside the main one (the all-in-one's collector) passes `defaultMetrics: false`: the process-wide
 * defaults (CPU, memory, handles) are the main thread's to report, once.
 */
export function createMetrics(opts: { defaultMetrics?: boolean; loop?: string } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const loopDelay = watchLoopDelay(registry, opts.loop ?? 'main');
  let queueSource: QueueGaugeSource | undefined;
  // Gauges read the latest queue sample at scrape time (the producer samples every 250 ms),
  // so /metrics is current without anyone having to call /readyz.
  const fromQueue = (pick: (s: ReturnType<QueueGaugeSource>) => number) =>
    function (this: Gauge) {
      const s = queueSource?.();
      if (s && s.sampledAt > 0) this.set(pick(s));
    };
  const m = {
    registry,
    /** This thread's event-loop delay over the last window. */
    loopDelay,
    /**
     * Feeds the queue gauges (waiting, active, failed, oldest age, dead letters) from a sampler: the
     * collector's producer, or a standalone worker's own (src/queue/queue-stats.ts). The last one set wins.
     */
    setQueueSource(source: QueueGaugeSource): void {
      queueSource = source;
    },
    eventsAccepted: new Counter({ name: 'anon_events_accepted_total', help: 'Events acknowledged with 202 and handed to Redis', registers: [registry] }),
    eventsRejected: new Counter({
      name: 'anon_events_rejected_total',
      help: 'Events refused by validation, by the field at fault (an event of a request refused as a whole is not counted here)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    requestsRefused: new Counter({
      name: 'anon_collect_refused_requests_total',
      help: 'POST /collect requests refused as a whole, by reason (4xx/5xx: none of their events was taken)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    eventsDropped: new Counter({ name: 'anon_events_dropped_total', help: 'Events dropped on purpose (consent, bot, ...)', labelNames: ['reason'] as const, registers: [registry] }),
    valuesDropped: new Counter({
      name: 'anon_values_dropped_total',
      help: 'Values dropped inside stored events: free-text or rule-breaking custom props, labels that are not design tokens',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    requests: new Histogram({
      name: 'anon_collect_request_seconds',
      help: 'Latency of POST /collect by status',
      labelNames: ['status'] as const,
      // 0.2: the promise that a refusal while Redis is down is answered within 200 ms can be read off here.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    queueWaiting: new Gauge({ name: 'anon_queue_waiting_jobs', help: 'Jobs waiting in the queue', registers: [registry], collect: fromQueue((s) => s.waiting) }),
    queueActive: new Gauge({ name: 'anon_queue_active_jobs', help: 'Jobs being processed', registers: [registry], collect: fromQueue((s) => s.active) }),
    queueFailed: new Gauge({ name: 'anon_queue_failed_jobs', help: 'Jobs in the dead-letter (failed) set', registers: [registry], collect: fromQueue((s) => s.failed) }),
    queueOldestAge: new Gauge({
      name: 'anon_queue_oldest_waiting_seconds',
      help: 'Age of the oldest waiting job',
      registers: [registry],
      collect: fromQueue((s) => s.oldestWaitingAgeMs / 1000),
    }),
    // The dead-letter queue is the failed set (src/queue/dlq.ts); named on its own for alerting.
    deadLetters: new Gauge({ name: 'anon_dead_letter_jobs', help: 'Jobs in the dead-letter queue (sealed, expiring)', registers: [registry], collect: fromQueue((s) => s.failed) }),
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
    jobsRejected: new Counter({
      name: 'anon_jobs_rejected_total',
      help: 'Jobs refused before use (forged, replayed, expired, unsigned): dead-lettered at once, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    jobsMalformed: new Counter({ name: 'anon_jobs_malformed_total', help: 'Jobs whose data or options were not JSON, removed from the queue', registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
