import express, { type Router } from 'express';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Metrics } from './metrics.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * GET /metrics. `others`: registries of other threads of this process (the all-in-one's collector thread),
 * as getMetricsAsJSON; their metrics are merged into this one's (counters and histograms summed, each
 * thread's event-loop delay under its own `loop` label).
 */
export function createMetricsRouter(metrics: Metrics, others: (() => Promise<unknown[]>)[] = []): Router {
  const router = express.Router();
  router.get('/metrics', async (_req, res) => {
    if (others.length === 0) {
      res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
      return;
    }
    // A thread that does not answer is left out of this scrape rather than failing it (its readiness says why).
    const all = await Promise.all([metrics.registry.getMetricsAsJSON(), ...others.map((get) => (get() as Promise<MetricsJson>).catch((): MetricsJson => []))]);
    const merged = AggregatorRegistry.aggregate(all);
    res.set('Content-Type', merged.contentType).send(await merged.metrics());
  });
  return router;
}
