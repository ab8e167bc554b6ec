/**
 * Test-only fault injection, so the fault tests (test/faults/) can prove the
 * reliability promises against the real worker entry point rather than a
 * stand-in. Switched on only by TEST_ONLY_FAULTS, which the config refuses
 * when NODE_ENV=production (and createFaults refuses too, should a config
 * ever let it through); without it `createFaults` returns NO_FAULTS, whose
 * hooks do nothing, so the production path is the plain one.
 *
 * Whenever a fault is on, the worker also stops background merges of
 * `events` (prepareStore): the fault tests count duplicates, and a
 * ReplacingMergeTree merge would collapse them out of sight.
 *
 *   crash-at:<point>[:n]    SIGKILL this process the n-th time (default: 1st) a
 *                           job reaches <point>: mid-anonymise (after the first
 *                           request of a job that has more than one, so part of
 *                           it is anonymised and part not), before-insert (rows
 *                           ready, not yet buffered), after-insert (rows in
 *                           ClickHouse, job not yet completed in Redis)
 *   store-down-while-file   every ClickHouse call of the worker fails (ping
 *                           included) while DATA_DIR/FAULT_STORE_DOWN exists:
 *                           an embedded store that is unavailable
 *   poison-while-file       while DATA_DIR/FAULT_POISON exists, rows of custom
 *                           events named `fault-poison` carry a timestamp that
 *                           ClickHouse itself rejects: a job that can never be
 *                           inserted
 *   stop-merges             nothing but the above: merges of `events` stopped
 *                           (for fault tests that inject nothing else)
 *   collector-thread-crash-while-file
 *                           the all-in-one's collector thread throws an
 *                           uncaught error once DATA_DIR/FAULT_COLLECTOR_CRASH
 *                           exists (collectorThreadCrash; no worker fault)
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EventRow } from '../anonymise/types.js';
import type { AnonymiseStep, RowSink } from '../ingest/anonymise-job.js';
import type { ClickHouseClient, RawInsert } from '../store/client.js';

export type CrashPoint = 'mid-anonymise' | 'before-insert' | 'after-insert';

/**
 * Faults are applied as wrappers around the worker's parts when the worker is
 * wired (src/app/worker.ts), never as calls inside the production path; with
 * no fault on, every wrapper returns what it was given.
 */
export interface Faults {
  /** `detail` (bounded, no visitor data) goes into the line announcing the kill, for the test to check. */
  reach(point: CrashPoint, detail?: string): void;
  poison(rows: EventRow[]): void;
  /** The anonymise step, crashing mid-job (after the first request of a job that has more than one). */
  anonymise(step: AnonymiseStep): AnonymiseStep;
  /** The row sink: rows poisoned, and crashes just before and just after the insert. */
  inserter(sink: RowSink): RowSink;
  /** The worker's view of the store (unchanged unless store-down-while-file is on). */
  store(client: ClickHouseClient): ClickHouseClient;
  /** The same for the embedded store's raw insert. */
  rawInsert(raw: RawInsert | undefined): RawInsert | undefined;
  /** Runs once before the worker consumes: stops background merges of `events` while any fault is on. */
  prepareStore(client: ClickHouseClient): Promise<void>;
}

export class FaultsRefusedError extends Error {
  override readonly name = 'FaultsRefusedError';
}

export const STORE_DOWN_FILE = 'FAULT_STORE_DOWN';
export const POISON_FILE = 'FAULT_POISON';
export const POISON_EVENT_NAME = 'fault-poison';

export const NO_FAULTS: Faults = {
  reach() {},
  poison() {},
  anonymise: (step) => step,
  inserter: (sink) => sink,
  store: (client) => client,
  rawInsert: (raw) => raw,
  prepareStore: async () => {},
};

export function createFaults(specs: readonly string[], dataDir: string, opts: { production: boolean }): Faults {
  if (specs.length === 0) return NO_FAULTS;
  // The config refuses this already; a second lock here, because a fault that SIGKILLs the worker or makes
  // ClickHouse reject rows must never run in production, whatever builds the config.
  if (opts.production) throw new FaultsRefusedError('TEST_ONLY_FAULTS is refused when NODE_ENV=production');
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
  const unavailable = () => Object.assign(new Error('connect ECONNREFUSED (TEST_ONLY_FAULTS store-down-while-file)'), { code: 'ECONNREFUSED' });
  const faults: Faults = {
    reach(point, detail) {
      const c = crashes.get(point);
      if (!c || ++c.seen !== c.at) return;
      say(`SIGKILL at ${point} (#${c.seen})${detail ? `, ${detail}` : ''}`);
      process.kill(process.pid, 'SIGKILL');
    },
    anonymise(step) {
      return (req, salt, at) => {
        const out = step(req, salt, at);
        // Mid-job for real: part of the job is anonymised and more of it is still to come.
        if (at.index === 0 && at.of > 1) faults.reach('mid-anonymise', `after request 1 of ${at.of}`);
        return out;
      };
    },
    inserter(sink) {
      return {
        async add(rows, key, opts) {
          faults.poison(rows);
          faults.reach('before-insert');
          await sink.add(rows, key, opts);
          faults.reach('after-insert');
        },
      };
    },
    async prepareStore(client) {
      // In memory only (lost with the process), so it runs at every worker start, before any job is taken.
      // The aggregates are left to merge: their sums survive merges, and the fault tests compare them too.
      try {
        await client.command({ query: 'SYSTEM STOP MERGES events' });
        say('background merges of events stopped');
      } catch (err) {
        // A server the tests cannot reach (the ClickHouse outage test): nothing is stored there to merge.
        say(`cannot stop merges: ${(err as Error).message.slice(0, 200)}`);
      }
    },
    poison(rows) {
      if (!poison || !fs.existsSync(poison)) return;
      for (const r of rows) if (r.custom_name === POISON_EVENT_NAME) (r as { ts: string }).ts = 'not a time';
    },
    rawInsert(raw) {
      if (!storeDown || !raw) return raw;
      const file = storeDown;
      return (p) => (fs.existsSync(file) ? Promise.reject(unavailable()) : raw(p));
    },
    store(client) {
      if (!storeDown) return client;
      const file = storeDown;
      const down = () => fs.existsSync(file);
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
  return faults;
}

export const COLLECTOR_CRASH_FILE = 'FAULT_COLLECTOR_CRASH';

/**
 * collector-thread-crash-while-file: the all-in-one's collector thread throws an uncaught error once
 * DATA_DIR/FAULT_COLLECTOR_CRASH exists (checked every 100 ms), so a test can prove that a dead collector
 * thread does not leave a half-alive process. Nothing happens without the fault.
 */
export function collectorThreadCrash(specs: readonly string[], dataDir: string, opts: { production: boolean }): void {
  if (!specs.includes('collector-thread-crash-while-file')) return;
  if (opts.production) throw new FaultsRefusedError('TEST_ONLY_FAULTS is refused when NODE_ENV=production');
  const file = path.join(dataDir, COLLECTOR_CRASH_FILE);
  const timer = setInterval(() => {
    if (!fs.existsSync(file)) return;
    clearInterval(timer);
    fs.writeSync(2, 'TEST_ONLY_FAULTS: collector thread crashes now\n');
    throw new Error('TEST_ONLY_FAULTS: collector thread crash');
  }, 100);
  timer.unref();
}
