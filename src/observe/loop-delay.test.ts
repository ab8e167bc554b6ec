import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { watchLoopDelay } from './loop-delay.js';

describe('watchLoopDelay', () => {
  it('sees a loop held busy, and reports it under the loop name given', async () => {
    const registry = new Registry();
    const loop = watchLoopDelay(registry, 'collector');
    await new Promise((r) => setTimeout(r, 50));
    // Hold this thread's loop for 150 ms: a delay at least that long must show (a loaded machine only adds).
    const until = Date.now() + 150;
    while (Date.now() < until);
    await new Promise((r) => setTimeout(r, 30));
    expect(loop.latest().maxMs).toBeGreaterThanOrEqual(100);
    const text = await registry.metrics();
    const max = /anon_event_loop_delay_seconds\{loop="collector",stat="max"\} ([0-9.e-]+)/.exec(text);
    expect(Number(max?.[1])).toBeGreaterThanOrEqual(0.1);
    expect(text).toMatch(/anon_event_loop_delay_seconds\{loop="collector",stat="p99"\}/);
  });
});
