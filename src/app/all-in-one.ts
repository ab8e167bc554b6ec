/**
 * The all-in-one (`npm start`, entry src/app/all-in-one-main.ts): collector +
 * anonymiser worker + embedded ClickHouse in one process, for a laptop, a
 * demo or a small shop. The one composition root of that process.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../observe/logger.js';
import { createMetrics, type Metrics } from '../observe/metrics.js';
import { createMetricsRouter } from '../observe/metrics-router.js';
import { createDashboardRouter } from '../query/dashboard.js';
import { createQueryRouter } from '../query/router.js';
import { resolveTokens, type Tokens } from '../query/tokens.js';
import type { Store } from '../store/client.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { startCollector, type Collector } from './collector.js';
import { openMigratedStore, storeReadiness } from './startup.js';
import { startWorker, type AnonymiserWorker } from './worker.js';

export interface AllInOne {
  config: Config;
  collector: Collector;
  worker: AnonymiserWorker;
  store: Store;
  tokens: Tokens;
  metrics: Metrics;
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
  try {
    const tokens = resolveTokens(config.auth, config.store.dataDir, !config.production);
    // The collector's 250 ms queue sample feeds /metrics here: the worker need not sample the same queue too.
    worker = await startWorker(config, { log, metrics, store, lockMs: opts.lockMs, maxBackoffMs: opts.maxBackoffMs, queueGauges: false });
    const inserter = worker.inserter;
    const collector = await startCollector(config, {
      log,
      metrics,
      routers: [
        createTrackerRouter({ demo: true }),
        createQueryRouter({ client: store.client, tokens, log }),
        createDashboardRouter(),
        createMetricsRouter(metrics),
      ],
      readiness: [storeReadiness(store, () => inserter.lastInsertAt)],
    });
    const running = worker;
    return {
      config,
      collector,
      worker: running,
      store,
      tokens,
      metrics,
      async close() {
        await collector.close();
        await running.close();
        await store.close();
      },
    };
  } catch (err) {
    await worker?.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
}

export function banner(p: AllInOne): string {
  const u = p.collector.url;
  const lines = [
    '',
    `  anon-analytics all-in-one is running (${p.store.embedded ? `embedded ClickHouse in ${p.store.dataPath}` : 'ClickHouse server'})`,
    `  collector       POST ${u}/collect`,
    `  tracker script  ${u}/t.js`,
    `  demo storefront ${u}/demo/`,
    `  health          ${u}/healthz  ${u}/readyz  ${u}/metrics`,
    `  dashboard       ${u}/dashboard  (analyst token below)`,
    `  query           POST ${u}/query  (or: npm run query -- "SELECT count() FROM events")`,
  ];
  if (p.tokens.generated || !p.config.auth.analystToken) {
    lines.push(`  analyst token   ${p.tokens.analyst ?? '(none)'}`, `  admin token     ${p.tokens.admin ?? '(none)'}`);
  }
  lines.push('');
  return lines.join('\n');
}
