/**
 * `npm run demo:seed [-- --visitors 300 --seed 13]`: dozens to hundreds of
 * synthetic visitors of the demo storefront, through the real collector
 * (src/app/demo-seed.ts), so the dashboard's panels fill in seconds. Run it
 * beside `npm start` (same REDIS_URL, DATA_DIR and QUEUE_PREFIX): its worker
 * stores them. The visitors land on today; run it again for more.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { runDemoSeed } from '../src/app/demo-seed.js';
import { createLogger } from '../src/observe/logger.js';

const USAGE = 'usage: npm run demo:seed [-- --visitors N (default 300) --seed N --site demo --origin http://localhost:8080]';

let args: { visitors?: string; seed?: string; site?: string; origin?: string };
try {
  args = parseArgs({ options: { visitors: { type: 'string' }, seed: { type: 'string' }, site: { type: 'string' }, origin: { type: 'string' } }, strict: true }).values;
} catch (err) {
  console.error(`demo:seed: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const visitors = Number(args.visitors ?? 300);
if (!Number.isInteger(visitors) || visitors < 1 || visitors > 20_000) {
  console.error(`demo:seed: --visitors must be 1–20000\n${USAGE}`);
  process.exit(2);
}
const config = loadConfig();
const site = args.site ?? 'demo';
if (!config.sites[site]) {
  console.error(`demo:seed: site ${JSON.stringify(site)} is not configured in SITES`);
  process.exit(2);
}
const origin = args.origin ?? `http://${config.sites[site]![0]}:${config.http.port}`;
const log = createLogger('warn', 'demo-seed');
const t0 = Date.now();
try {
  const r = await runDemoSeed(config, log, { visitors, site, origin, seed: Number(args.seed ?? Date.now() % 1e9) });
  console.log(`demo:seed: ${r.visitors} visitors, ${r.events} events in ${r.requests} requests (${r.refused} refused) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(
    r.drained
      ? `stored by the running worker: open the dashboard (npm start prints where) for site "${site}"`
      : 'still waiting in the queue: is `npm start` (or `npm run worker`) running on this REDIS_URL and QUEUE_PREFIX?',
  );
  if (r.refused) process.exitCode = 1;
} catch (err) {
  console.error(`demo:seed: ${(err as Error).name}: ${(err as Error).message}`);
  process.exitCode = 1;
}
