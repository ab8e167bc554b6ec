/**
 * `npm start`: collector + anonymiser worker + embedded ClickHouse in one
 * process, for a laptop, a demo or a small shop. The one composition root of
 * that process.
 */
import type { Config } from '../config/config.js';
import { loadConfig } from '../config/config.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { createMetrics, type Metrics } from '../observe/metrics.js';
import { createMetricsRouter } from '../observe/metrics-router.js';
import { createDashboardRouter } from '../query/dashboard.js';
import { createQueryRouter } from '../query/router.js';
import { resolveTokens, type Tokens } from '../query/tokens.js';
import { openStore, type Store } from '../store/client.js';
import { migrate, migrationVars } from '../store/migrate.js';
import { startCollector, type Collector } from './collector.js';
import { isEntry } from './entry.js';
import { onShutdown } from './shutdown.js';
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

export async function startAllInOne(config: Config, log: Logger, opts: { lockMs?: number; maxBackoffMs?: number } = {}): Promise<AllInOne> {
  const metrics = createMetrics({ defaultMetrics: true });
  const store = await openStore(config.store);
  try {
    // MIGRATE_ON_START=false: the schema is applied by `npm run migrate` (an insert-only ClickHouse user may not run DDL).
    if (config.store.migrateOnStart) await migrate(store.client, migrationVars(config.store), log);
    else log.info('MIGRATE_ON_START=false: not applying migrations');
    const tokens = resolveTokens(config.auth, config.store.dataDir, !config.production);
    // The collector's 250 ms queue sample feeds /metrics here: the worker need not sample the same queue too.
    const worker = await startWorker(config, { log, metrics, store, lockMs: opts.lockMs, maxBackoffMs: opts.maxBackoffMs, queueGauges: false });
    const collector = await startCollector(config, {
      log,
      metrics,
      routers: [
        createTrackerRouter({ demo: true }),
        createQueryRouter({ client: store.client, tokens, log }),
        createDashboardRouter(),
        createMetricsRouter(metrics),
      ],
      readiness: [
        {
          name: 'store',
          async check() {
            const r = await store.client.ping();
            return { ok: r.success, detail: { embedded: store.embedded, lastInsertAt: worker.inserter.lastInsertAt || null } };
          },
        },
      ],
    });
    return {
      config,
      collector,
      worker,
      store,
      tokens,
      metrics,
      async close() {
        await collector.close();
        await worker.close();
        await store.close();
      },
    };
  } catch (err) {
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

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, 'all-in-one');
  let app: AllInOne;
  try {
    app = await startAllInOne(config, log);
  } catch (err) {
    log.fatal({ err: { name: (err as Error).name, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
  process.stdout.write(banner(app) + '\n');
  onShutdown(log, config.shutdownGraceMs, () => app.close());
}

if (isEntry(import.meta.url)) void main();
