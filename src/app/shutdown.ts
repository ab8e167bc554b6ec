/**
 * SIGTERM/SIGINT drain: stop taking work, finish what is in flight, exit
 * within the grace period (forced exit with code 1 after it).
 *
 * The drain names the step it is at (`progress`), so a drain cut by the grace
 * period says what it was waiting for: an operator can tell a slow store from
 * a job that never settled.
 */
import type { Logger } from '../observe/logger.js';

/** Called by a drain as it enters each step: a short name, no data. */
export type DrainProgress = (step: string) => void;

export function onShutdown(log: Logger, graceMs: number, drain: (progress: DrainProgress) => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs }, 'draining');
    const t0 = Date.now();
    let step = 'starting';
    let stepAt = t0;
    // How long each step took, in the last log line: where a slow drain spends its time.
    const steps: Record<string, number> = {};
    const progress: DrainProgress = (next) => {
      const at = Date.now();
      steps[step] = (steps[step] ?? 0) + at - stepAt;
      step = next;
      stepAt = at;
    };
    const force = setTimeout(() => {
      const waitingFor = step;
      progress('exit');
      log.error({ graceMs, waitingFor, steps }, 'drain exceeded the grace period; exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    drain(progress).then(
      () => {
        progress('exit');
        log.info({ ms: Date.now() - t0, steps }, 'drained; bye');
        process.exit(0);
      },
      (err) => {
        log.error({ err, step }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
