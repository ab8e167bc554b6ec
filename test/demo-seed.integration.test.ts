/**
 * `npm run demo:seed` against the real pipeline: synthetic visitors through a
 * collector of the seed's own (sealed for the pipeline's workers, into its
 * queue), stored by the pipeline's worker within seconds, and enough of them,
 * from enough networks, that every panel of the layout dashboard has shown
 * cells: tiles and positions, both experiment arms, the funnel, custom props.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemoSeed, visitorPages } from '../src/app/demo-seed.js';
import { createLogger } from '../src/observe/logger.js';
import { checkQuery } from '../src/query/guard.js';
import { withQuerySettings } from '../src/query/settings.js';
import { clickHouseParser } from '../src/store/parser.js';
import { validateBatch } from '../src/wire/validate.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';

let p: TestPipeline;
let seeded: Awaited<ReturnType<typeof runDemoSeed>>;
let seconds = 0;
const P = "site = 'demo', date_from = today() - 1, date_to = today()";
const LIMITS = { maxExecutionSeconds: 30, maxMemoryBytes: 1 << 30, maxResultRows: 1_000_000, maxResultBytes: 100 << 20 };

async function analyst(sql: string): Promise<Record<string, any>[]> {
  const checked = await checkQuery(clickHouseParser(p.app.store.client), sql, 'analyst');
  const rs = await p.app.store.client.query({ query: withQuerySettings(checked, LIMITS, '00000000-0000-4000-8000-000000000000'), format: 'JSONEachRow' });
  return rs.json();
}

beforeAll(async () => {
  p = await startTestPipeline();
  const t0 = Date.now();
  seeded = await runDemoSeed(p.app.config, createLogger('warn', 'test'), { visitors: 300, site: 'demo', origin: p.url.replace('127.0.0.1', 'localhost'), seed: 13 });
  seconds = (Date.now() - t0) / 1000;
  await p.waitForCount("SELECT count() AS n FROM events WHERE type = 'pageview'", 300, 30_000);
}, 180_000);
afterAll(async () => {
  await p?.close();
});

describe('npm run demo:seed', () => {
  it('sends every visitor through the collector, all accepted, and the worker drains the queue in seconds', () => {
    expect(seeded).toMatchObject({ visitors: 300, refused: 0, drained: true });
    expect(seeded.events).toBeGreaterThan(3000);
    expect(seconds).toBeLessThan(60);
  });

  it('builds only what the wire format takes', () => {
    let x = 0.5;
    const r = () => (x = (x * 9301 + 49297) % 233280) / 233280;
    for (let i = 0; i < 200; i++) {
      for (const events of visitorPages(r, 'http://localhost:8080').pages) {
        expect(validateBatch({ site: 'demo', events }, { demo: ['localhost'] }).rejected).toEqual([]);
      }
    }
  });

  it('stores every visitor on a network of its own, as a browser, nothing dropped', async () => {
    const [r] = await p.rows<{ visitors: string; networks: string }>(
      "SELECT uniqExact(visitor_id) AS visitors, uniqExact(ip_prefix) AS networks FROM events WHERE type = 'pageview'",
    );
    expect(Number(r!.visitors)).toBe(300);
    expect(Number(r!.networks)).toBe(300);
  });

  it('fills the tiles panel: every grid position above the fold, with clicks', async () => {
    const rows = await analyst(`SELECT position, impressions, clicks, ctr FROM v_items(${P}, list = 'home-grid') WHERE level = 'position' ORDER BY position`);
    expect(rows.map((x) => Number(x.position)).slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Number(rows[0]!.impressions)).toBe(300);
    // The position effect the seed builds in: the first tile is clicked more often than the sixth.
    expect(Number(rows[0]!.ctr)).toBeGreaterThan(Number(rows[5]!.ctr));
    const items = await analyst(`SELECT item FROM v_items(${P}, list = '*') WHERE level = 'item'`);
    expect(items.length).toBeGreaterThan(10);
  });

  it('fills the experiment card with both arms and the funnel with every step', async () => {
    const arms = await analyst(`SELECT arm, visitors, conversions, p_value, below_min_sample FROM v_experiment(${P}, experiment = 'grid-layout', goal = 'add_to_cart')`);
    expect(arms.map((a) => a.arm)).toEqual(['a', 'b']);
    expect(arms.reduce((s, a) => s + Number(a.visitors), 0)).toBe(300);
    expect(Number(arms[1]!.conversions) / Number(arms[1]!.visitors)).toBeGreaterThan(Number(arms[0]!.conversions) / Number(arms[0]!.visitors));
    expect(arms[1]!.p_value).not.toBeNull();
    const funnel = await analyst(`SELECT step, visitors, fewer_than_k FROM v_funnel(${P}, steps = ['/demo/', '/demo/product', '/demo/cart', '/demo/checkout', 'checkout_submit'], device = '')`);
    expect(funnel.map((f) => Number(f.fewer_than_k))).toEqual([0, 0, 0, 0, 0]);
    const counts = funnel.map((f) => Number(f.visitors));
    expect(counts[0]).toBe(300);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThan(counts[i - 1]!);
    const props = await analyst(`SELECT key, value FROM v_custom_props(${P}, name = 'add_to_cart')`);
    expect(props.filter((x) => x.key === 'sku').length).toBeGreaterThan(3);
  });
});
