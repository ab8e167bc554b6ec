/**
 * The all-in-one (`npm start`, entry src/app/all-in-one-main.ts): collector +
 * anonymiser worker + embedded ClickHouse in one process, for a laptop, a
 * demo or a small shop. The one composition root of that process. `npm
 * start` runs the collector in a thread of its own (startThreadedAllInOne,
 * collector-thread.ts) so the process uses two cores; startAllInOne keeps
 * everything on one thread (tests, and ALL_IN_ONE_THREADS=false).
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
import { createHealthRouter } from '../observe/health.js';
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

export interface AllInOne {
  config: Config;
  collector: Collector;
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

/** The all-in-one with its collector in a thread of its own (`npm start`; src/app/collector-thread.ts). */
export interface ThreadedAllInOne {
  config: Config;
  collectorUrl: string;
  collector: CollectorThread;
  worker: AnonymiserWorker;
  store: Store;
  tokens: Tokens;
  metrics: Metrics;
  queryUrl: string;
  close(progress?: DrainProgress): Promise<void>;
}

export interface AllInOneOptions {
  lockMs?: number;
  maxBackoffMs?: number;
  metrics?: Metrics;
}

/** The store's side, on the main thread: the store, the anonymiser worker and the store's readiness. */
async function startStoreSide(config: Config, log: Logger, metrics: Metrics, opts: AllInOneOptions) {
  const store = await openMigratedStore(config, log);
  let worker: AnonymiserWorker | undefined;
  try {
    // The collector's 250 ms queue sample feeds /metrics here: the worker need not sample the same queue too.
    worker = await startWorker(config, { log, metrics, store, lockMs: opts.lockMs, maxBackoffMs: opts.maxBackoffMs, queueGauges: false });
    const inserter = worker.inserter;
    const storePing = await openStorePing(store);
    return { store, worker, storePing, storeReady: storeReadiness(store, () => inserter.lastInsertAt, storePing.ping) };
  } catch (err) {
    await worker?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

/** What both variants run on the main thread besides their collector: closed in one order, after the collector. */
interface MainThreadParts {
  server?: http.Server;
  queries?: QueryService;
  worker: AnonymiserWorker;
  storePing: StorePing;
  store: Store;
}

async function closeMainThread(p: MainThreadParts, progress: DrainProgress): Promise<void> {
  progress("people's port: open connections");
  if (p.server) await closeServer(p.server);
  progress('query service');
  await p.queries?.close();
  await p.worker.close(progress);
  progress('store');
  p.storePing.close();
  await p.store.close();
}

/** A start that failed half-way: closes whatever was opened, errors ignored (the start's own error is thrown). */
async function abandonStart(p: MainThreadParts & { collector?: { close(): Promise<void> } }): Promise<void> {
  if (p.server?.listening) await closeServer(p.server).catch(() => {});
  await p.collector?.close().catch(() => {});
  await p.queries?.close().catch(() => {});
  await p.worker.close().catch(() => {});
  p.storePing.close();
  await p.store.close().catch(() => {});
}

/**
 * The all-in-one on one thread: the collector shares the event loop with the worker. What tests and
 * in-process callers use (they reach the collector's producer and server); `npm start` runs
 * startThreadedAllInOne.
 */
export async function startAllInOne(config: Config, log: Logger, opts: AllInOneOptions = {}): Promise<AllInOne> {
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const side = await startStoreSide(config, log, metrics, opts);
  const { store, worker, storePing } = side;
  let queries: QueryService | undefined;
  let peopleServer: http.Server | undefined;
  let collector: Collector | undefined;
  try {
    const readiness = [side.storeReady];
    collector = await startCollector(config, { log, metrics, routers: [createTrackerRouter({ demo: true })], readiness });
    queries = await openQueryService(config, store, log, new URL(collector.url).origin);
    peopleServer = createHttpServer(createRoutesApp([createHealthRouter(readiness), createMetricsRouter(metrics), ...queries.routers], log));
    const queryUrl = await listen(peopleServer, config.query.port, config.query.host);
    const running = collector;
    const service = queries;
    const server = peopleServer;
    return {
      config,
      collector: running,
      collectorUrl: running.url,
      worker,
      store,
      tokens: service.tokens,
      metrics,
      queryUrl,
      async close(progress: DrainProgress = () => {}) {
        progress('collector: requests in flight');
        await running.close();
        await closeMainThread({ server, queries: service, worker, storePing, store }, progress);
      },
    };
  } catch (err) {
    await abandonStart({ server: peopleServer, collector, queries, worker, storePing, store });
    throw err;
  }
}

/**
 * `npm start`: the all-in-one on both cores. The main thread owns the embedded ClickHouse (worker, query
 * service, people's port); the collector runs in a thread of its own (collector-thread.ts). `onCollectorDeath`
 * is called once if that thread dies unasked: the caller must close the rest and exit non-zero.
 */
export async function startThreadedAllInOne(
  config: Config,
  log: Logger,
  opts: AllInOneOptions & { onCollectorDeath(err: Error): void },
): Promise<ThreadedAllInOne> {
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const side = await startStoreSide(config, log, metrics, opts);
  const { store, worker, storePing } = side;
  let queries: QueryService | undefined;
  let peopleServer: http.Server | undefined;
  let collector: CollectorThread | undefined;
  try {
    collector = await startCollectorThread(config, { log, storeReadiness: side.storeReady, onDeath: opts.onCollectorDeath });
    const thread = collector;
    queries = await openQueryService(config, store, log, new URL(thread.url).origin);
    const readiness = [side.storeReady, thread.readiness];
    peopleServer = createHttpServer(createRoutesApp([createHealthRouter(readiness), createMetricsRouter(metrics, [thread.metricsJson]), ...queries.routers], log));
    const queryUrl = await listen(peopleServer, config.query.port, config.query.host);
    const service = queries;
    const server = peopleServer;
    return {
      config,
      collector: thread,
      collectorUrl: thread.url,
      worker,
      store,
      tokens: service.tokens,
      metrics,
      queryUrl,
      async close(progress: DrainProgress = () => {}) {
        // The collector first (stop accepting, answer in-flight requests, flush its queue writes), then the
        // worker drains what is queued.
        progress('collector thread: requests in flight');
        await thread.close();
        await closeMainThread({ server, queries: service, worker, storePing, store }, progress);
      },
    };
  } catch (err) {
    await abandonStart({ server: peopleServer, collector, queries, worker, storePing, store });
    throw err;
  }
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
