/**
 * `npm run collector`: a stateless collector for scaled-out deployments. It
 * needs only Redis (and the workers' public sealing key); its /readyz checks
 * only what it uses.
 */
import { loadConfig, type Config } from '../config/config.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { createLogger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import { createMetricsRouter } from '../observe/metrics-router.js';
import { startCollector } from './collector.js';
import { isEntry } from './entry.js';
import { onShutdown } from './shutdown.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, 'collector');
  const metrics = createMetrics({ defaultMetrics: true });
  try {
    const collector = await startCollector(config, {
      log,
      metrics,
      routers: [createTrackerRouter({ demo: !config.production }), createMetricsRouter(metrics)],
    });
    log.info({ listen: collector.url }, 'collector listening');
    onShutdown(log, config.shutdownGraceMs, () => collector.close());
  } catch (err) {
    log.fatal({ err: { name: (err as Error).name, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
}

if (isEntry(import.meta.url)) void main();
