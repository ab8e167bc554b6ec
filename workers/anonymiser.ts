/**
 * `npm run worker`: an anonymiser worker for scaled-out deployments (built in
 * src/app/worker.ts). With CLICKHOUSE_URL it only consumes and inserts; in
 * embedded mode it owns the chDB directory, so it also answers /query (and
 * /healthz, /readyz, /metrics) on WORKER_PORT.
 */
import { startWorkerProcess } from '../src/app/worker.js';
import { runMain } from '../src/app/startup.js';

void runMain('worker', startWorkerProcess);
