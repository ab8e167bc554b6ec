/**
 * `npm run worker`: an anonymiser worker for scaled-out deployments. With
 * CLICKHOUSE_URL it only consumes and inserts; in embedded mode it owns the
 * chDB directory, so it also answers /query (and /healthz, /readyz,
 * /metrics) on WORKER_PORT.
 */
import express from 'express';
import { loadConfig, type Config } from '../src/config/config.js';
import { createLogger } from '../src/observe/logger.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createMetricsRouter } from '../src/observe/metrics-router.js';
import { createQueryRouter } from '../src/query/router.js';
import { resolveTokens } from '../src/query/tokens.js';
import { openStore } from '../src/store/client.js';
import { migrate, migrationVars } from '../src/store/migrate.js';
import { createHttpServer, listen } from '../src/app/collector.js';
import { isEntry } from '../src/app/entry.js';
import { onShutdown } from '../src/app/shutdown.js';
import { startWorker } from '../src/app/worker.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, 'worker');
  const metrics = createMetrics({ defaultMetrics: true });
  try {
    const store = await openStore(config.store);
    if (config.store.migrateOnStart) await migrate(store.client, migrationVars(config.store), log);
    const worker = await startWorker(config, { log, metrics, store });
    let server: import('node:http').Server | undefined;
    if (config.http.workerPort > 0) {
      const routers = [createMetricsRouter(metrics)];
      if (store.embedded) routers.push(createQueryRouter({ client: store.client, tokens: resolveTokens(config.auth, config.store.dataDir, !config.production), log }));
      const app = express();
      app.disable('x-powered-by');
      app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
      app.get('/readyz', async (_req, res) => {
        const ping = await store.client.ping();
        res.status(ping.success ? 200 : 503).json({ status: ping.success ? 'ready' : 'not ready', lastInsertAt: worker.inserter.lastInsertAt || null });
      });
      for (const r of routers) app.use(r);
      server = createHttpServer(app);
      const url = await listen(server, config.http.workerPort, config.http.host);
      log.info({ listen: url }, 'worker HTTP (health, metrics' + (store.embedded ? ', query' : '') + ')');
    }
    log.info({ embedded: store.embedded }, 'worker started');
    onShutdown(log, config.shutdownGraceMs, async () => {
      server?.close();
      await worker.close();
      await store.close();
    });
  } catch (err) {
    log.fatal({ err: { name: (err as Error).name, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
}

if (isEntry(import.meta.url)) void main();
