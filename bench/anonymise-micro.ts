/**
 * Per-event cost of anonymiseRequest (src/anonymise/pipeline.ts), with a warm
 * UA cache (every UA seen before) and a cold one (every request a new UA, so
 * ua-parser-js runs once per request). Requests carry 10 mixed events, as the
 * tracker batches them. Prints the median of several runs: the machine is
 * shared, single runs are noisy.  Run: npx tsx bench/anonymise-micro.ts
 */
import { anonymiseRequest } from '../src/anonymise/pipeline.js';
import { createDeviceParser } from '../src/anonymise/device.js';
import type { AnonymiseConfig } from '../src/anonymise/types.js';
import type { CollectedRequest } from '../src/wire/types.js';
import type { WireEvent } from '../src/wire/types.js';

const config: AnonymiseConfig = { ipv4Prefix: 24, ipv6Prefix: 48, sites: { shop: ['shop.example'] }, queryAllowlist: [] };
const salt = Buffer.alloc(32, 3);
const EVENTS_PER_REQUEST = 10;
const REQUESTS = 5000;
const RUNS = 7;

const events = (i: number): WireEvent[] =>
  Array.from({ length: EVENTS_PER_REQUEST }, (_, j): WireEvent => {
    const base = { id: `evt${i}x${j}abcdef`, pageview_id: `pv${i}abcdefgh`, url: `https://shop.example/products/usb-c-${j}w-charger?utm_source=mail&x=${i}` };
    switch (j % 5) {
      case 0: return { ...base, type: 'pageview', referrer: 'https://www.google.com/search?q=x', viewport: { w: 1440, h: 900 } };
      case 1: case 2: return { ...base, type: 'click', click: { selector: 'main>section.buy>button.add', label: 'add-to-cart', x: 0.42, y: 0.61, page_x: 812, page_y: 1204 } };
      case 3: return { ...base, type: 'engagement', engagement: { visible_ms: 27000, scroll_depth: 80 } };
      default: return { ...base, type: 'custom', custom: { name: 'checkout_start', props: { items: 2 } } };
    }
  });
const ua = (k: number) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (k % 40)}.0.${k}.86 Safari/537.36`;
const requests = (uniqueUa: boolean, offset: number): CollectedRequest[] =>
  Array.from({ length: REQUESTS }, (_, i) => ({
    ctx: { site: 'shop', ip: i % 3 ? `198.51.${i % 256}.${(i * 7) % 256}` : `2001:db8:${i.toString(16)}::1`, userAgent: ua(uniqueUa ? offset + i : i % 50), receivedAt: Date.now() },
    events: events(i),
  }));

function run(reqs: CollectedRequest[], device: ReturnType<typeof createDeviceParser>): number {
  const t = process.hrtime.bigint();
  let rows = 0;
  for (const r of reqs) rows += anonymiseRequest(r, salt, { config, device }).rows.length;
  const us = Number(process.hrtime.bigint() - t) / 1000;
  if (rows !== reqs.length * EVENTS_PER_REQUEST) throw new Error(`expected every event to become a row, got ${rows}`);
  return us / rows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const warmDevice = createDeviceParser({ cacheSize: 10_000 });
const warmReqs = requests(false, 0);
run(warmReqs, warmDevice); // fill the cache and warm the JIT
const warm: number[] = [];
const cold: number[] = [];
for (let r = 0; r < RUNS; r++) {
  warm.push(run(warmReqs, warmDevice));
  // Cold: a fresh cache and UAs never seen before, so every request parses its UA.
  cold.push(run(requests(true, (r + 1) * 1_000_000), createDeviceParser({ cacheSize: 10_000 })));
}
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
console.log(`anonymiseRequest, ${EVENTS_PER_REQUEST} events per request, ${REQUESTS} requests per run, ${RUNS} runs`);
console.log(`warm UA cache: median ${median(warm).toFixed(2)} µs/event  (runs: ${fmt(warm)})`);
console.log(`cold UA cache: median ${median(cold).toFixed(2)} µs/event  (runs: ${fmt(cold)}); per request ${(median(cold) * EVENTS_PER_REQUEST).toFixed(1)} µs`);
