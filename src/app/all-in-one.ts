/**
 * The all-in-one (`npm start`, entry src/app/all-in-one-main.ts): collector +
 * anonymiser worker + embedded ClickHouse in one process, for a laptop, a
 * demo or a small shop. The one composition root of that process. `npm
 * start` runs the collector in a thread of its own (startThreadedAllInOne,
 * collector-thread.ts) so the process uses two cores; startAllInOne keeps
 * everything on one thread (tests, and COLLECTOR_THREAD=false).
 *
 * Two ports: the collector's (PORT, public) serves only what browsers need
 * (/collect, /t.js, /demo/) and the health checks; the people's port
 * (QUERY_PORT on QUERY_HOST, 127.0.0.1 by default) serves /query,
 * /dashboard and /metrics, and the health checks too.
 */
import type http from 'node:http';
import type { Config } from '../config/config.js';
import type { DrainProgress } from './shutdown.js';
import { closeServer, createHttpServer, createRoutesApp, listen } from '../http/server.js';
import { createHealthRouter, type ReadinessCheck } from '../observe/health.js';
import type { Logger } from '../observe/logger.js';
import { createMetrics, type Metrics } from '../observe/metrics.js';
import { createMetricsRouter } from '../observe/metrics-router.js';
import type { Tokens } from '../query/tokens.js';
import type { Store } from '../store/client.js';
import { openStorePing, type StorePing } from '../store/ping.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { startCollector, type Collector } from './collector.js';
import { startCollectorThread, type CollectorThread } from './collector-thread.js';
import { openQueryService, type QueryService } from './query-service.js';
import { openMigratedStore, storeReadiness } from './startup.js';
import { startWorker, type AnonymiserWorker } from './worker.js';

/** The all-in-one as its callers hold it; `C` is its collector: in this thread, or a thread of its own. */
export interface AllInOneOf<C> {
  config: Config;
  collector: C;
  /** Where the collector listens (PORT): /collect, /t.js, /demo/. */
  collectorUrl: string;
  worker: AnonymiserWorker;
  store: Store;
  tokens: Tokens;
  metrics: Metrics;
  /** The people's port: /query, /dashboard, /metrics (QUERY_HOST:QUERY_PORT). */
  queryUrl: string;
  close(progress?: DrainProgress): Promise<void>;
}

/** On one thread (tests and in-process callers reach the collector's producer and server). */
export type AllInOne = AllInOneOf<Collector>;
/** With its collector in a thread of its own (`npm start`; src/app/collector-thread.ts). */
export type ThreadedAllInOne = AllInOneOf<CollectorThread>;

export interface AllInOneOptions {
  lockMs?: number;
  maxBackoffMs?: number;
  metrics?: Metrics;
}

/** What a collector variant adds to the main thread's parts. */
interface CollectorPart<C> {
  collector: C;
  url: string;
  /** The people's port's readiness checks besides the store's. */
  readiness: ReadinessCheck[];
  /** Other registries /metrics merges (a thread's). */
  metricsSources: (() => Promise<unknown[]>)[];
  /** The drain step that closes it. */
  closeStep: string;
  close(): Promise<void>;
}

/**
 * The store side, the given collector, the query service and the people's port, started in that order; on
 * close the collector first (stop accepting, answer in-flight requests, flush its queue writes), then the
 * people's port, the query service, the worker (which drains what is queued) and the store.
 */
async function assembleAllInOne<C>(
  config: Config,
  log: Logger,
  opts: AllInOneOptions,
  startCollectorPart: (storeReady: ReadinessCheck, metrics: Metrics) => Promise<CollectorPart<C>>,
): Promise<AllInOneOf<C>> {
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const store = await openMigratedStore(config, log);
  let worker: AnonymiserWorker | undefined;
  let storePing: StorePing | undefined;
  let part: CollectorPart<C> | undefined;
  let queries: QueryService | undefined;
  let server: http.Server | undefined;
  try {
    // The collector's 250 ms queue sample feeds /metrics here: the worker need not sample the same queue too.
    worker = await startWorker(config, { log, metrics, store, lockMs: opts.lockMs, maxBackoffMs: opts.maxBackoffMs, queueGauges: false });
    const inserter = worker.inserter;
    storePing = await openStorePing(store);
    const storeReady = storeReadiness(store, () => inserter.lastInsertAt, storePing.ping);
    part = await startCollectorPart(storeReady, metrics);
    queries = await openQueryService(config, store, log, new URL(part.url).origin);
    const readiness = [storeReady, ...part.readiness];
    server = createHttpServer(createRoutesApp([createHealthRouter(readiness), createMetricsRouter(metrics, part.metricsSources), ...queries.routers], log));
    const queryUrl = await listen(server, config.query.port, config.query.host);
    const parts = { part, server, queries, worker, storePing };
    return {
      config,
      collector: part.collector,
      collectorUrl: part.url,
      worker,
      store,
      tokens: queries.tokens,
      metrics,
      queryUrl,
      async close(progress: DrainProgress = () => {}) {
        progress(parts.part.closeStep);
        await parts.part.close();
        progress("people's port: open connections");
        await closeServer(parts.server);
        progress('query service');
        await parts.queries.close();
        await parts.worker.close(progress);
        progress('store');
        parts.storePing.close();
        await store.close();
      },
    };
  } catch (err) {
    // A start that failed half-way: whatever was opened is closed, errors ignored (the start's own is thrown).
    if (server?.listening) await closeServer(server).catch(() => {});
    await part?.close().catch(() => {});
    await queries?.close().catch(() => {});
    await worker?.close().catch(() => {});
    storePing?.close();
    await store.close().catch(() => {});
    throw err;
  }
}

/** The all-in-one on one thread: the collector shares the event loop with the worker. */
export function startAllInOne(config: Config, log: Logger, opts: AllInOneOptions = {}): Promise<AllInOne> {
  return assembleAllInOne(config, log, opts, async (storeReady, metrics) => {
    const collector = await startCollector(config, { log, metrics, routers: [createTrackerRouter({ demo: true })], readiness: [storeReady] });
    return { collector, url: collector.url, readiness: [], metricsSources: [], closeStep: 'collector: requests in flight', close: () => collector.close() };
  });
}

/**
 * `npm start`: the all-in-one on both cores. The main thread owns the embedded ClickHouse (worker, query
 * service, people's port); the collector runs in a thread of its own (collector-thread.ts). `onCollectorDeath`
 * is called once if that thread dies unasked: the caller must close the rest and exit non-zero.
 */
export function startThreadedAllInOne(config: Config, log: Logger, opts: AllInOneOptions & { onCollectorDeath(err: Error): void }): Promise<ThreadedAllInOne> {
  return assembleAllInOne(config, log, opts, async (storeReady) => {
    const thread = await startCollectorThread(config, { log, storeReadiness: storeReady, onDeath: opts.onCollectorDeath });
    return {
      collector: thread,
      url: thread.url,
      readiness: [thread.readiness],
      metricsSources: [thread.metricsJson],
      closeStep: 'collector thread: requests in flight',
      close: () => thread.close(),
    };
  });
}

export function banner(p: Pick<AllInOne, 'config' | 'collectorUrl' | 'queryUrl' | 'store' | 'tokens'>): string {
  const u = p.collectorUrl;
  const q = p.queryUrl;
  const lines = [
    '',
    `  anon-analytics all-in-one is running (${p.store.embedded ? `embedded ClickHouse in ${p.store.dataPath}` : 'ClickHouse server'})`,
    `  collector       POST ${u}/collect`,
    `  tracker script  ${u}/t.js`,
    `  demo storefront ${u}/demo/`,
    `  health          ${u}/healthz  ${u}/readyz`,
    `  for people (${p.config.query.host} only unless QUERY_HOST says otherwise):`,
    `  dashboard       ${q}/dashboard  (analyst token below)`,
    `  query           POST ${q}/query  (or: npm run query -- "SELECT count() FROM events")`,
    `  metrics         ${q}/metrics`,
    `  credentials     npm run tokens -- add NAME --role analyst|admin`,
  ];
  if (p.tokens.generated || !p.config.auth.analystToken) {
    lines.push(`  analyst token   ${p.tokens.analyst ?? '(none)'}`, `  admin token     ${p.tokens.admin ?? '(none)'}`);
  }
  lines.push('');
  return lines.join('\n');
}
