/**
 * `npm run collector`: a stateless collector for scaled-out deployments. It
 * needs only Redis (and the workers' public sealing key); its /readyz checks
 * only what it uses.
 */
import { createMetricsRouter } from '../observe/metrics-router.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { startCollector } from './collector.js';
import { runMain } from './startup.js';

void runMain('collector', async ({ config, log, metrics }) => {
  const collector = await startCollector(config, {
    log,
    metrics,
    routers: [createTrackerRouter({ demo: !config.production }), createMetricsRouter(metrics)],
  });
  log.info({ listen: collector.url }, 'collector listening');
  return collector;
});
