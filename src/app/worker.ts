/**
 * Composition of an anonymiser worker: sealing key, daily salts in Redis, the
 * UA parser cache, the batched inserter, the BullMQ consumer, and a queue
 * sampler feeding its /metrics (a standalone worker has no collector to do it).
 * startWorker is the worker alone (the all-in-one adds a collector to it);
 * startWorkerProcess is `npm run worker`: store, worker and its HTTP server.
 */
import type { Config } from '../config/config.js';
import { createDeviceParser, type DeviceParser } from '../anonymise/device.js';
import { SaltRing } from '../anonymise/salts.js';
import type { AnonymiseConfig } from '../anonymise/types.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { startConsumer, type Consumer } from '../queue/consumer.js';
import { DeadLetters } from '../queue/dlq.js';
import { aofHousekeeping } from '../queue/aof-rewrite.js';
import { Housekeeper, type HousekeepingJob } from '../queue/housekeeping.js';
import { MalformedJobSweeper } from '../queue/malformed.js';
import { ReplayGuard } from '../queue/replay-guard.js';
import { createJobVerifier } from '../queue/signing.js';
import { QueueSampler } from '../queue/queue-stats.js';
import { workerIdSecret, workerSealKey } from '../queue/keys.js';
import { assertNoEviction, waitReady, workerConnection, type Redis } from '../queue/redis.js';
import { RedisSaltStore } from '../queue/salt-store.js';
import { keyFingerprint, publicKeyOf, Unsealer } from '../queue/seal.js';
import type { Store } from '../store/client.js';
import { EventInserter } from '../store/inserter.js';
import { rollupFinishedDays, scheduleRollup, utcDay } from '../store/rollup.js';
import { aggregateNow, scheduleAggregation, type AggregateRun, type AggregationSchedule } from '../store/aggregator.js';
import { createJobProcessor, type AnonymiseStep, type JobAdmission } from '../ingest/anonymise-job.js';
import { closeServer, createHttpServer, createRoutesApp, listen } from '../http/server.js';
import { createHealthRouter } from '../observe/health.js';
import { createMetricsRouter } from '../observe/metrics-router.js';
import { openQueryService, type QueryService } from './query-service.js';
import { openStorePing, type StorePing } from '../store/ping.js';
import { openMigratedStore, storeReadiness, type ProcessContext, type RunningProcess } from './startup.js';
import type { DrainProgress } from './shutdown.js';
import { anonymiseRequest } from '../anonymise/pipeline.js';
import { createFaults } from './faults.js';

/** How often malformed jobs are looked for: they hold a worker slot each until removed. */
const MALFORMED_SWEEP_MS = 2000;

/** A scrape every 15 s or so needs no fresher figure; the collector samples faster for its 503 decision. */
const QUEUE_SAMPLE_MS = 1000;

/** Dead-letter expiry and the daily rollup: at most once an hour per deployment (src/queue/housekeeping.ts). */
const HOUSEKEEPING_EVERY_MS = 3_600_000;

export interface AnonymiserWorker {
  consumer: Consumer;
  inserter: EventInserter;
  deadLetters: DeadLetters;
  /**
   * Brings the aggregates up to date now (embedded mode: in turn with the timer's runs; the store's one
   * aggregator is this process). Server mode: undefined, the aggregation is a housekeeping job of the deployment.
   */
  aggregate?: () => Promise<AggregateRun[]>;
  close(progress?: DrainProgress): Promise<void>;
}

export interface WorkerOptions {
  log: Logger;
  metrics: Metrics;
  store: Store;
  now?: () => number;
  /** Lock/stall timing; shorter in tests so a killed worker's jobs come back quickly. */
  lockMs?: number;
  maxBackoffMs?: number;
  /** Feed the queue gauges of /metrics from a sampler of its own (false where a collector in the process does). */
  queueGauges?: boolean;
}

export function anonymiseConfig(config: Config): AnonymiseConfig {
  return {
    ipv4Prefix: config.anonymise.ipv4Prefix,
    ipv6Prefix: config.anonymise.ipv6Prefix,
    queryAllowlist: config.anonymise.queryAllowlist,
    utmParams: config.anonymise.utmParams,
    siteRules: config.anonymise.siteRules,
    sites: config.sites,
  };
}

/** The pure anonymiser (src/anonymise/pipeline.ts) as the job processor's step. */
export function anonymiseStep(config: AnonymiseConfig, device: DeviceParser): AnonymiseStep {
  return (req, salt) => anonymiseRequest(req, salt, { config, device });
}

/** What this worker admits (src/ingest/anonymise-job.ts steps 1–4): its sites, its job age window, trusted collectors, replays. */
export function jobAdmission(config: Config, redis: Redis, now: () => number = Date.now): JobAdmission {
  return {
    sites: config.sites,
    maxAgeMs: config.queue.maxJobAgeMs,
    verifier: createJobVerifier(config.signing.trustedCollectors),
    replays: new ReplayGuard(redis, config.redis.prefix, config.queue.maxJobAgeMs),
    now,
  };
}

export async function startWorker(config: Config, opts: WorkerOptions): Promise<AnonymiserWorker> {
  const { log, metrics, store } = opts;
  const now = opts.now ?? Date.now;
  const redis = workerConnection(config.redis);
  redis.on('error', (err) => log.warn({ err: { message: err.message } }, 'worker redis connection error'));
  await waitReady(redis, config.redis);
  await assertNoEviction(redis);
  const privateKey = workerSealKey(config, log);
  log.info({ sealKey: keyFingerprint(publicKeyOf(privateKey)) }, 'worker opens jobs sealed for key');
  // Empty unless a fault test set TEST_ONLY_FAULTS (refused in production): then `client` may fail on purpose.
  const faults = createFaults(config.testOnlyFaults, config.store.dataDir, { production: config.production });
  // The real client, not the faulty view: a store-down fault may be on already.
  await faults.prepareStore(store.client);
  const client = faults.store(store.client);
  // Embedded mode: this process is the only writer, and the store's one aggregator. Whatever a crash or a kill
  // left unaggregated (a range planned and not done, rows stored since the last run) is aggregated before any
  // job is taken, so the daily rollup below never reads a day short (src/store/aggregator.ts).
  if (store.embedded) {
    const t0 = Date.now();
    const runs = await aggregateNow(store.client);
    if (runs.length) log.info({ ranges: runs.length, rows: runs.reduce((n, r) => n + r.rows, 0), redone: runs.some((r) => r.redone), ms: Date.now() - t0 }, 'aggregates brought up to date at start');
  }
  const inserter = new EventInserter(client, {
    rawInsert: faults.rawInsert(store.rawInsert),
    batchRows: config.worker.batchRows,
    flushMs: config.worker.flushMs,
    // Every job the consumer holds waits on the inserter: once all of them do, nothing more can come.
    maxWaiting: config.worker.concurrency,
    onInsert: ({ rows, ms }) => {
      metrics.rowsInserted.inc(rows);
      metrics.insertBatchRows.observe(rows);
      metrics.insertSeconds.observe(ms / 1000);
    },
    onFailure: (err) => {
      metrics.insertFailures.inc();
      log.warn({ err: { message: (err as Error).message.slice(0, 300) } }, 'insert failed');
    },
  });
  const admission = jobAdmission(config, redis, now);
  if (admission.verifier.required) log.info({ collectors: Object.keys(config.signing.trustedCollectors) }, 'accepting only jobs signed by these collectors');
  const processor = createJobProcessor({
    unsealer: new Unsealer(privateKey),
    admission,
    salts: new SaltRing(new RedisSaltStore(redis, config.redis.prefix), workerIdSecret(privateKey), now),
    // Test-only faults (none in production) wrap the steps here, outside the job logic.
    anonymise: faults.anonymise(anonymiseStep(anonymiseConfig(config), createDeviceParser({ cacheSize: 10_000 }))),
    inserter: faults.inserter(inserter),
    client,
    metrics,
  });
  const consumer = startConsumer(
    {
      redis: config.redis,
      queueName: config.redis.queueName,
      prefix: config.redis.prefix,
      concurrency: config.worker.concurrency,
      lockMs: opts.lockMs ?? config.queue.lockMs,
      maxBackoffMs: opts.maxBackoffMs ?? config.queue.maxBackoffMs,
    },
    processor,
  );
  consumer.onFailed(({ id, final, error }) => {
    metrics.jobsFailed.inc({ final: String(final) });
    log.warn({ job: id, final, error: error.slice(0, 300) }, final ? 'job moved to the dead-letter queue' : 'job failed; will retry');
  });
  consumer.onError((err) => log.warn({ err: { message: err.message } }, 'worker error'));
  consumer.onPaused(({ dependency, pauseMs, error }) =>
    log.warn({ dependency, pauseMs, error: error.slice(0, 300) }, 'dependency unavailable; queue paused, jobs keep their attempts'),
  );
  // Queue gauges and dead letters on this process's /metrics (a standalone worker has no collector to feed them).
  const queueStats = opts.queueGauges === false ? undefined : QueueSampler.open(redis, config.redis.queueName, config.redis.prefix);
  if (queueStats) {
    queueStats.start(QUEUE_SAMPLE_MS);
    metrics.setQueueSource(() => queueStats.latest());
  }
  const deadLetters = new DeadLetters(redis, config.redis.queueName, config.redis.prefix);
  // Housekeeping runs once per deployment, not once per worker: under a Redis lease with a fencing token that
  // each step checks (src/queue/housekeeping.ts, src/queue/lease.ts).
  const housekeeper = new Housekeeper(redis, config.redis.prefix, {
    onOutcome: ({ job, outcome, token, ms, error }) => {
      if (outcome === 'failed' || outcome === 'lease_lost') log.warn({ job, token, err: { message: error?.message.slice(0, 300) } }, `housekeeping job ${outcome === 'failed' ? 'failed; tried again later' : 'lost its lease; stopped'}`);
      else if (outcome === 'ran') log.debug({ job, token, ms }, 'housekeeping job ran');
    },
  });
  housekeeper.add({
    name: 'dead-letter-expiry',
    everyMs: HOUSEKEEPING_EVERY_MS,
    run: async (fence) => {
      const n = await deadLetters.expire(config.queue.dlqRetentionDays, () => fence.check());
      if (n) log.info({ removed: n }, 'expired dead letters');
    },
  });
  // After each UTC midnight (a day salt just expired), Redis rewrites its AOF so the file no longer holds the
  // expired salt (src/queue/aof-rewrite.ts); once a day, nothing when AOF is off.
  const aof = aofHousekeeping(redis, config.redis.prefix, now);
  housekeeper.add({
    name: 'aof-rewrite',
    everyMs: HOUSEKEEPING_EVERY_MS,
    run: async (fence) => {
      await fence.check();
      if ((await aof.run()) === 'rewritten') log.info('asked Redis to rewrite its AOF: expired salts leave the file');
    },
  });
  // Jobs BullMQ cannot parse never reach the processor: removed here, by id, content unread (src/queue/malformed.ts).
  const sweeper = new MalformedJobSweeper(redis, config.redis.queueName, config.redis.prefix);
  const sweep = () =>
    sweeper.sweep().then(
      (bad) => {
        for (const { id, field } of bad) log.warn({ job: id, field }, 'malformed job removed from the queue (its content was not read)');
        if (bad.length) metrics.jobsMalformed.inc(bad.length);
      },
      (err: Error) => log.warn({ err: { message: err.message } }, 'malformed-job sweep failed; tried again shortly'),
    );
  const sweeping = setInterval(sweep, MALFORMED_SWEEP_MS);
  sweeping.unref();
  // The daily rollup of finished days into the long-lived aggregates (schemas/003_rollups.sql): at start, then
  // hourly. The real client: a fault test's store-down view is for the job path. On a ClickHouse server many
  // workers share the store, so it is a housekeeping job there (one worker of the deployment, fenced at each
  // statement); the embedded store belongs to this process alone, which rolls it up by itself.
  const rollupJob: HousekeepingJob = {
    name: 'daily-rollup',
    everyMs: HOUSEKEEPING_EVERY_MS,
    run: async (fence) => void (await rollupFinishedDays(store.client, new Date(now()), log, () => fence.check())),
  };
  let rollup: { stop(): Promise<void> } | undefined;
  // The aggregates, from `events` in the background (src/store/aggregator.ts): the embedded store's one writer
  // runs them itself every AGGREGATE_EVERY_MS and once more when it stops; on a ClickHouse server they are a
  // housekeeping job of the deployment, on a lease of their own (its own tick: every AGGREGATE_EVERY_MS, not
  // hourly), each step fenced. Not on a cluster: its views still aggregate at insert time (docs/scaling.md).
  let aggregation: AggregationSchedule | undefined;
  let aggregator: Housekeeper | undefined;
  const everyMs = config.worker.aggregateEveryMs;
  const onRuns = (runs: AggregateRun[]) => {
    for (const r of runs) {
      log.debug({ lo: r.lo, hi: r.hi, rows: r.rows, redone: r.redone, ms: r.ms }, 'aggregated a range of events');
      if (r.redone) log.info({ lo: r.lo, hi: r.hi, rows: r.rows }, 'an unfinished aggregation range was redone');
    }
  };
  if (store.embedded) {
    rollup = scheduleRollup(store.client, {
      log,
      onError: (err) => log.warn({ err: { message: err.message.slice(0, 300) } }, 'daily rollup failed; retried next hour'),
    });
    aggregation = scheduleAggregation(store.client, {
      everyMs,
      onRun: onRuns,
      onError: (err) => log.warn({ err: { message: err.message.slice(0, 300) } }, 'aggregation failed; tried again at the next run'),
    });
  } else {
    housekeeper.add(rollupJob);
    if (!config.store.cluster) {
      aggregator = new Housekeeper(redis, config.redis.prefix, {
        tickMs: everyMs,
        retryMs: everyMs,
        onOutcome: ({ outcome, token, error }) => {
          if (outcome === 'failed' || outcome === 'lease_lost') log.warn({ token, err: { message: error?.message.slice(0, 300) } }, `aggregation ${outcome === 'failed' ? 'failed; tried again later' : 'lost its lease; stopped'}`);
        },
      });
      aggregator.add({ name: 'aggregate', everyMs, run: async (fence) => onRuns(await aggregateNow(store.client, { check: () => fence.check() })) });
      aggregator.start();
    }
  }
  housekeeper.start();
  return {
    consumer,
    inserter,
    deadLetters,
    ...(aggregation ? { aggregate: aggregation.runNow } : {}),
    async close(progress: DrainProgress = () => {}) {
      // The last aggregation must end within the shutdown grace period with the rest of the drain: what it cannot
      // finish by then, the next start redoes (src/store/aggregator.ts).
      const aggregateUntil = Date.now() + config.shutdownGraceMs * 0.6;
      clearInterval(sweeping);
      progress('worker: daily rollup in progress');
      await rollup?.stop();
      progress('worker: housekeeping job in progress');
      await housekeeper.stop();
      progress('worker: aggregation run in progress');
      await aggregator?.stop();
      // Stop fetching, and flush buffered rows now so active jobs can complete.
      progress('worker: jobs in progress, buffered rows');
      const closing = consumer.close();
      await inserter.drain();
      progress('worker: jobs completing after their rows were inserted');
      await closing;
      // Every insert has completed or failed: one last run leaves the aggregates complete.
      progress('worker: last aggregation run');
      await aggregation?.stop(aggregateUntil);
      progress('worker: queue connections');
      await queueStats?.close();
      await deadLetters.close();
      redis.disconnect();
    },
  };
}

/**
 * `npm run worker`: the store (migrated unless MIGRATE_ON_START=false), the
 * worker, and on WORKER_PORT its health, metrics and, in embedded mode where
 * this process owns the data directory, /query and /dashboard. Serving
 * people's routes, it listens on QUERY_HOST (127.0.0.1 by default) like the
 * all-in-one's query port; with CLICKHOUSE_URL (health and metrics only) on HOST.
 */
export async function startWorkerProcess({ config, log, metrics }: ProcessContext): Promise<RunningProcess> {
  const store = await openMigratedStore(config, log);
  let worker: AnonymiserWorker | undefined;
  let queries: QueryService | undefined;
  let storePing: StorePing | undefined;
  try {
    worker = await startWorker(config, { log, metrics, store });
    const inserter = worker.inserter;
    let server: import('node:http').Server | undefined;
    if (config.http.workerPort > 0) {
      storePing = await openStorePing(store);
      const routers = [createHealthRouter([storeReadiness(store, () => inserter.lastInsertAt, storePing.ping)]), createMetricsRouter(metrics)];
      if (store.embedded) {
        queries = await openQueryService(config, store, log);
        routers.push(...queries.routers);
      }
      server = createHttpServer(createRoutesApp(routers, log));
      const url = await listen(server, config.http.workerPort, store.embedded ? config.query.host : config.http.host);
      log.info({ listen: url }, 'worker HTTP (health, metrics' + (store.embedded ? ', query, dashboard' : '') + ')');
    }
    log.info({ embedded: store.embedded }, 'worker started');
    const running = worker;
    const service = queries;
    const pinger = storePing;
    return {
      async close(progress: DrainProgress = () => {}) {
        progress('worker HTTP: open connections');
        if (server) await closeServer(server);
        progress('query service');
        await service?.close();
        await running.close(progress);
        progress('store');
        pinger?.close();
        await store.close();
      },
    };
  } catch (err) {
    await queries?.close().catch(() => {});
    storePing?.close();
    await worker?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}
