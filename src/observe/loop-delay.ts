/**
 * Event-loop delay of one thread (perf_hooks.monitorEventLoopDelay), as a
 * gauge per loop: `anon_event_loop_delay_seconds{loop, stat}` with stat p50,
 * p99 and max.
 *
 * Design note: a histogram since start would hide the load of the last minute
 * under hours of idle, and a reset at each scrape would make two scrapers
 * steal each other's samples. So the delay is read over fixed windows
 * (WINDOW_MS): a scrape reports the last complete window (the one running,
 * until the first completes). Each thread has its own loop and its own
 * monitor: the all-in-one's collector thread reports loop="collector", the
 * main thread loop="main" (src/app/collector-thread.ts merges them).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

export const LOOP_DELAY_WINDOW_MS = 10_000;

export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The sampling timer's period: a sample is that period plus the delay, so the period is taken off again. */
const RESOLUTION_MS = 10;

function read(h: IntervalHistogram): LoopDelay {
  // The histogram is in nanoseconds; an empty one reads NaN/0.
  const ms = (ns: number) => (Number.isFinite(ns) && ns > 0 ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0);
  return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
}

/** Watches this thread's event loop; registers the gauge in `registry`. The timer never keeps a process alive. */
export function watchLoopDelay(registry: Registry, loop: string): { latest(): LoopDelay } {
  // 10 ms: a finer period costs a timer wake-up that often, and the delay itself is measured to the microsecond.
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  let last: LoopDelay | undefined;
  const timer = setInterval(() => {
    last = read(h);
    h.reset();
  }, LOOP_DELAY_WINDOW_MS);
  timer.unref();
  const latest = () => last ?? read(h);
  new Gauge({
    name: 'anon_event_loop_delay_seconds',
    help: `Event-loop delay of each thread over the last ${LOOP_DELAY_WINDOW_MS / 1000} s window (p50, p99, max), by loop`,
    labelNames: ['loop', 'stat'] as const,
    registers: [registry],
    collect() {
      const d = latest();
      this.set({ loop, stat: 'p50' }, d.p50Ms / 1000);
      this.set({ loop, stat: 'p99' }, d.p99Ms / 1000);
      this.set({ loop, stat: 'max' }, d.maxMs / 1000);
    },
  });
  return { latest };
}
