/**
 * The all-in-one (`npm start`, entry src/app/all-in-one-main.ts): collector +
 * anonymiser worker + embedded ClickHouse in one process, for a laptop, a
 * demo or a small shop. The one composition root of that process.
 *
 * Two ports: the collector's (PORT, public) serves only what browsers need
 * (/collect, /t.js, /demo/) and the health checks; the people's port
 * (QUERY_PORT on QUERY_HOST, 127.0.0.1 by default) serves /query,
 * /dashboard and /metrics, and the health checks too.
 */
import type http from 'node:http';
import type { Config } from '../config/config.js';
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
import { openQueryService, type QueryService } from './query-service.js';
import { openMigratedStore, storeReadiness } from './startup.js';
import { startWorker, type AnonymiserWorker } from './worker.js';

export interface AllInOne {
  config: Config;
  collector: Collector;
  worker: AnonymiserWorker;
  store: Store;
  tokens: Tokens;
  metrics: Metrics;
  /** The people's port: /query, /dashboard, /metrics (QUERY_HOST:QUERY_PORT). */
  queryUrl: string;
  close(): Promise<void>;
}

export async function startAllInOne(
  config: Config,
  log: Logger,
  opts: { lockMs?: number; maxBackoffMs?: number; metrics?: Metrics } = {},
): Promise<AllInOne> {
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const store = await openMigratedStore(config, log);
  let worker: AnonymiserWorker | undefined;
  let queries: QueryService | undefined;
  let peopleServer: http.Server | undefined;
  let storePing: StorePing | undefined;
  try {
    // The collector's 250 ms queue sample feeds /metrics here: the worker need not sample the same queue too.
    worker = await startWorker(config, { log, metrics, store, lockMs: opts.lockMs, maxBackoffMs: opts.maxBackoffMs, queueGauges: false });
    const inserter = worker.inserter;
    storePing = await openStorePing(store);
    const readiness = [storeReadiness(store, () => inserter.lastInsertAt, storePing.ping)];
    const collector = await startCollector(config, { log, metrics, routers: [createTrackerRouter({ demo: true })], readiness });
    queries = await openQueryService(config, store, log, new URL(collector.url).origin);
    peopleServer = createHttpServer(createRoutesApp([createHealthRouter(readiness), createMetricsRouter(metrics), ...queries.routers], log));
    const queryUrl = await listen(peopleServer, config.query.port, config.query.host);
    const running = worker;
    const service = queries;
    const server = peopleServer;
    const pinger = storePing;
    return {
      config,
      collector,
      worker: running,
      store,
      tokens: service.tokens,
      metrics,
      queryUrl,
      async close() {
        await closeServer(server);
        await collector.close();
        await service.close();
        await running.close();
        pinger.close();
        await store.close();
      },
    };
  } catch (err) {
    if (peopleServer?.listening) await closeServer(peopleServer).catch(() => {});
    await queries?.close().catch(() => {});
    await worker?.close().catch(() => {});
    storePing?.close();
    await store.close().catch(() => {});
    throw err;
  }
}

export function banner(p: AllInOne): string {
  const u = p.collector.url;
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
