/**
 * The all-in-one's collector thread (started by src/app/collector-thread.ts,
 * never run on its own): the collector (HTTP parse, validate, seal, enqueue)
 * on an event loop of its own, so the main thread's anonymiser, inserts and
 * analysts' queries do not delay /collect, and the process uses both cores.
 * It never touches ClickHouse (the embedded engine stays on the main thread).
 *
 * It receives the parsed configuration (workerData: plain, cloneable data),
 * logs through its own logger to the same stdout, keeps its own metrics
 * registry (the main thread merges it into /metrics), and asks the main
 * thread for the store's readiness (its /readyz reports it, as before).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import type { ReadinessCheck } from '../observe/health.js';
import { createLogger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import { createTrackerRouter } from '../tracker/serve.js';
import { startCollector, type Collector } from './collector.js';
import { collectorThreadCrash } from './faults.js';
import { ThreadRpc } from './thread-rpc.js';

if (!parentPort) throw new Error('collector-thread-main.ts runs as the all-in-one collector thread only');
const port = parentPort;
const { config } = workerData as { config: Config };
const log = createLogger(config.logLevel, 'all-in-one').child({ thread: 'collector' });
// No default metrics: CPU, memory and handles are the process's, reported once by the main thread.
const metrics = createMetrics({ defaultMetrics: false, loop: 'collector' });
let collector: Collector | undefined;

const rpc = new ThreadRpc(port, {
  metrics: () => metrics.registry.getMetricsAsJSON(),
  ping: () => ({ ok: true, loopDelay: metrics.loopDelay.latest() }),
  async close() {
    await collector?.close();
    rpc.stop();
  },
});

const storeReadiness: ReadinessCheck = {
  name: 'store',
  check: () => rpc.call<{ ok: boolean; detail?: Record<string, unknown> }>('readiness:store'),
};

try {
  collectorThreadCrash(config.testOnlyFaults, config.store.dataDir, { production: config.production });
  collector = await startCollector(config, { log, metrics, routers: [createTrackerRouter({ demo: true })], readiness: [storeReadiness] });
  rpc.notify('listening', { url: collector.url });
} catch (err) {
  rpc.notify('failed', { name: (err as Error).name, message: (err as Error).message });
  rpc.stop();
}
