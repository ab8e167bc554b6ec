/**
 * Test-only fault injection, so the fault tests (test/faults/) can prove the
 * reliability promises against the real worker entry point rather than a
 * stand-in. Switched on only by TEST_ONLY_FAULTS, which the config refuses
 * when NODE_ENV=production; without it `createFaults` returns NO_FAULTS,
 * whose hooks do nothing, so the production path is the plain one.
 *
 *   crash-at:<point>[:n]    SIGKILL this process the n-th time (default: 1st) a
 *                           job reaches <point>: mid-anonymise (after the first
 *                           request of a job), before-insert (rows ready, not yet
 *                           buffered), after-insert (rows in ClickHouse, job not
 *                           yet completed in Redis)
 *   store-down-while-file   every ClickHouse call of the worker fails (ping
 *                           included) while DATA_DIR/FAULT_STORE_DOWN exists:
 *                           an embedded store that is unavailable
 *   poison-while-file       while DATA_DIR/FAULT_POISON exists, rows of custom
 *                           events named `fault-poison` carry a timestamp that
 *                           ClickHouse itself rejects: a job that can never be
 *                           inserted
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EventRow } from '../anonymise/types.js';
import type { ClickHouseClient } from '../store/client.js';

export type CrashPoint = 'mid-anonymise' | 'before-insert' | 'after-insert';

/** The hooks a job processor calls; all no-ops unless a test switched a fault on. */
export interface JobFaults {
  reach(point: CrashPoint): void;
  poison(rows: EventRow[]): void;
}

export interface Faults extends JobFaults {
  /** The worker's view of the store (unchanged unless store-down-while-file is on). */
  store(client: ClickHouseClient): ClickHouseClient;
}

export const STORE_DOWN_FILE = 'FAULT_STORE_DOWN';
export const POISON_FILE = 'FAULT_POISON';
export const POISON_EVENT_NAME = 'fault-poison';

export const NO_FAULTS: Faults = {
  reach() {},
  poison() {},
  store: (client) => client,
};

export function createFaults(specs: readonly string[], dataDir: string): Faults {
  if (specs.length === 0) return NO_FAULTS;
  const crashes = new Map<string, { at: number; seen: number }>();
  let storeDown: string | undefined;
  let poison: string | undefined;
  for (const spec of specs) {
    const [kind, point, n] = spec.split(':');
    if (kind === 'crash-at' && point) crashes.set(point, { at: Number(n ?? 1), seen: 0 });
    else if (kind === 'store-down-while-file') storeDown = path.join(dataDir, STORE_DOWN_FILE);
    else if (kind === 'poison-while-file') poison = path.join(dataDir, POISON_FILE);
  }
  // Written synchronously to stderr: a SIGKILL right after would lose a buffered log line.
  const say = (msg: string) => fs.writeSync(2, `TEST_ONLY_FAULTS: ${msg}\n`);
  say(`active: ${specs.join(', ')}`);
  return {
    reach(point) {
      const c = crashes.get(point);
      if (!c || ++c.seen !== c.at) return;
      say(`SIGKILL at ${point} (#${c.seen})`);
      process.kill(process.pid, 'SIGKILL');
    },
    poison(rows) {
      if (!poison || !fs.existsSync(poison)) return;
      for (const r of rows) if (r.custom_name === POISON_EVENT_NAME) (r as { ts: string }).ts = 'not a time';
    },
    store(client) {
      if (!storeDown) return client;
      const file = storeDown;
      const down = () => fs.existsSync(file);
      const unavailable = () => Object.assign(new Error('connect ECONNREFUSED (TEST_ONLY_FAULTS store-down-while-file)'), { code: 'ECONNREFUSED' });
      return new Proxy(client, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== 'function') return value;
          if (prop === 'ping') return (...args: unknown[]) => (down() ? Promise.resolve({ success: false, error: unavailable() }) : (value as (...a: unknown[]) => unknown).apply(target, args));
          if (prop === 'insert' || prop === 'query' || prop === 'command' || prop === 'exec') {
            return (...args: unknown[]) => (down() ? Promise.reject(unavailable()) : (value as (...a: unknown[]) => unknown).apply(target, args));
          }
          return (value as (...a: unknown[]) => unknown).bind(target);
        },
      });
    },
  };
}
