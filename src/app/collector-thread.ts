/**
 * The all-in-one's collector in a thread of its own (worker_threads): the
 * main thread keeps the embedded ClickHouse (the anonymiser worker and the
 * analysts' query service: chDB must stay on the thread that owns the data
 * directory, and it crashed at the exit of a worker thread that loaded it),
 * the collector thread (collector-thread-main.ts) answers /collect on its own
 * event loop. Together they use both cores of a small box.
 *
 * - Start: the thread gets the parsed configuration; it answers `listening`
 *   with its URL, or `failed` with the reason (start-up fails as a whole).
 * - Metrics: the thread keeps its own registry; `metricsJson` fetches it for
 *   the main thread's /metrics, which merges both (AggregatorRegistry).
 * - Readiness: the thread's /readyz asks the main thread for the store's
 *   check; the main thread's /readyz pings the thread (`readiness()`).
 * - Stop: `close()` has the thread stop accepting, answer its in-flight
 *   requests and flush its queue writes; then the thread ends.
 * - Death: a thread that throws or exits unasked calls `onDeath` once; the
 *   process must then drain what is left and exit non-zero
 *   (all-in-one-main.ts): a process whose collector is gone would look
 *   alive to an orchestrator while refusing every connection.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import type { ReadinessCheck } from '../observe/health.js';
import type { Logger } from '../observe/logger.js';
import { ThreadRpc } from './thread-rpc.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(`./collector-thread-main${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/**
 * Run from TypeScript source (tsx), a worker thread does not inherit the loader on Node 20 (its --import
 * hooks stay on the main thread): the thread then starts from a line that registers tsx and imports the entry.
 */
function newThread(options: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(ENTRY, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
/** How long a scrape or a readiness check waits for the thread's answer. */
const CALL_TIMEOUT_MS = 2000;
/** After the thread has drained, how long it may take to end before it is terminated. */
const EXIT_WAIT_MS = 2000;

export class CollectorThreadError extends Error {
  override readonly name = 'CollectorThreadError';
}

export interface CollectorThread {
  url: string;
  /** The thread's metrics registry as JSON (prom-client getMetricsAsJSON), for the merged /metrics. */
  metricsJson(): Promise<unknown[]>;
  /** Readiness check of the main thread: the collector thread answers (and its loop delay). */
  readiness: ReadinessCheck;
  close(): Promise<void>;
}

export interface CollectorThreadOptions {
  log: Logger;
  /** The store's readiness, asked by the thread's /readyz. */
  storeReadiness: ReadinessCheck;
  /** Called once if the thread dies without being asked to stop. */
  onDeath(err: Error): void;
}

export async function startCollectorThread(config: Config, opts: CollectorThreadOptions): Promise<CollectorThread> {
  const { log } = opts;
  const worker = newThread({ workerData: { config }, name: 'collector' });
  let closing = false;
  let dead: Error | undefined;
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  let started: { resolve: (url: string) => void; reject: (err: Error) => void } | undefined;
  const rpc = new ThreadRpc(worker, { 'readiness:store': () => opts.storeReadiness.check() }, (kind, value) => {
    if (kind === 'listening') started?.resolve((value as { url: string }).url);
    if (kind === 'failed') {
      const e = value as { name: string; message: string };
      started?.reject(Object.assign(new CollectorThreadError(e.message), { name: e.name }));
    }
  });
  const die = (err: Error) => {
    if (dead) return;
    dead = err;
    rpc.failPending(err);
    // Dying while starting: the start fails (and with it the process's start-up), nothing else.
    if (started) return started.reject(err);
    if (!closing) opts.onDeath(err);
  };
  // An uncaught error in the thread: name and message only (a stack adds nothing an operator can act on).
  worker.on('error', (err) => {
    log.error({ err: { name: err.name, message: err.message } }, 'collector thread failed');
    die(new CollectorThreadError(`collector thread failed: ${err.name}: ${err.message}`));
  });
  void exited.then((code) => die(new CollectorThreadError(`collector thread exited with code ${code}`)));

  const url = await new Promise<string>((resolve, reject) => {
    started = { resolve, reject };
  }).catch(async (err: Error) => {
    closing = true;
    await worker.terminate();
    throw err;
  });
  started = undefined;
  log.info({ listen: url }, 'collector thread listening');

  return {
    url,
    // Bounded: a scrape must not hang on a stuck thread (its metrics are then left out of that scrape).
    metricsJson: () => rpc.call<unknown[]>('metrics', undefined, CALL_TIMEOUT_MS),
    readiness: {
      name: 'collector',
      async check() {
        if (dead) return { ok: false, detail: { error: dead.message } };
        const r = await rpc.call<{ ok: boolean; loopDelay: unknown }>('ping', undefined, CALL_TIMEOUT_MS);
        return { ok: r.ok, detail: { thread: 'collector', loopDelay: r.loopDelay } };
      },
    },
    async close() {
      if (dead) return;
      closing = true;
      await rpc.call('close');
      // Drained: nothing is left for the thread to do. It should end by itself; if a handle keeps it, end it.
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), EXIT_WAIT_MS).unref());
      if ((await Promise.race([exited, timer])) === 'late') await worker.terminate();
      rpc.stop();
    },
  };
}
