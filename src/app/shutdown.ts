/**
 * SIGTERM/SIGINT drain: stop taking work, finish what is in flight, exit
 * within the grace period (forced exit with code 1 after it).
 */
import type { Logger } from '../observe/logger.js';

export function onShutdown(log: Logger, graceMs: number, drain: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs }, 'draining');
    const force = setTimeout(() => {
      log.error({ graceMs }, 'drain exceeded the grace period; exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    drain().then(
      () => {
        log.info('drained; bye');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
