/**
 * What every process entry point does the same way, in one place:
 *   1. parse the configuration (a bad setting: its message, exit code 2);
 *   2. build the logger and the metrics registry;
 *   3. start the process's parts (a failure: one fatal log line, exit 1);
 *   4. drain them on SIGTERM/SIGINT within SHUTDOWN_GRACE_MS.
 * Plus the start-up steps several processes share: the store opened and
 * migrated (unless MIGRATE_ON_START=false) and its readiness check.
 */
import { loadConfig, type Config } from '../config/config.js';
import type { ReadinessCheck } from '../observe/health.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { createMetrics, type Metrics } from '../observe/metrics.js';
import { openStore, type Store } from '../store/client.js';
import { migrate, migrationVars } from '../store/migrate.js';
import { onShutdown, type DrainProgress } from './shutdown.js';

export interface ProcessContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
}

export interface RunningProcess {
  /** Drains and closes; names each step it enters through `progress` (src/app/shutdown.ts). */
  close(progress?: DrainProgress): Promise<void>;
}

/** Runs a process entry point: `start` builds what the process is made of, from the parsed configuration. */
export async function runMain(role: string, start: (ctx: ProcessContext) => Promise<RunningProcess>): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, role);
  const metrics = createMetrics({ defaultMetrics: true });
  let running: RunningProcess;
  try {
    running = await start({ config, log, metrics });
  } catch (err) {
    // Name and message only: a start-up error never carries visitor data, but a stack adds nothing for an operator.
    log.fatal({ err: { name: (err as Error).name, message: (err as Error).message } }, 'cannot start');
    process.exit(1);
  }
  onShutdown(log, config.shutdownGraceMs, (progress) => running.close(progress));
}

/** Opens the store and, unless MIGRATE_ON_START=false, applies the migrations; closes it again if that fails. */
export async function openMigratedStore(config: Config, log: Logger): Promise<Store> {
  const store = await openStore(config.store);
  try {
    // MIGRATE_ON_START=false: the schema is applied by `npm run migrate` (an insert-only ClickHouse user may not run DDL).
    if (config.store.migrateOnStart) await migrate(store.client, migrationVars(config.store), log);
    else log.info('MIGRATE_ON_START=false: not applying migrations');
    return store;
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

/**
 * /readyz: the store answers, with when rows were last inserted (0 = not yet: null). `ping` asks it
 * (src/store/ping.ts: on a connection of its own in embedded mode); the client's ping when not given.
 */
export function storeReadiness(store: Store, lastInsertAt: () => number, ping: () => Promise<{ success: boolean }> = () => store.client.ping()): ReadinessCheck {
  return {
    name: 'store',
    async check() {
      const r = await ping();
      return { ok: r.success, detail: { embedded: store.embedded, lastInsertAt: lastInsertAt() || null } };
    },
  };
}
