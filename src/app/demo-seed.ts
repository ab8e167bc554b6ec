/**
 * `npm run demo:seed` (scripts/demo-seed.ts): synthetic visitors of the demo
 * storefront, sent through the real collector, so the dashboard has
 * something to show without anyone clicking around.
 *
 * Why a collector of its own: the k rule shows a group only with k visitors
 * from k networks, and requests from this machine all come from one address.
 * The seed starts a collector in this process (the same code as `npm run
 * collector`, sealing for the same workers' key and queue) that trusts
 * X-Forwarded-For from loopback only, and gives each synthetic visitor an
 * address on a /24 of its own (in 10.0.0.0/8) and a real browser's
 * User-Agent. The events wait in Redis for the worker of `npm start` (or any
 * worker on that queue); nothing here touches ClickHouse.
 *
 * What the visitors do (seeded, so a run is repeatable): land on the grid
 * (arm a or b of the demo's `grid-layout` experiment, as experiment.js would
 * assign), see the tiles above the fold (more in the compact arm b) and, some,
 * the rest after scrolling; click a tile with a chance that falls with its
 * position and rises in arm b; on the product page see the related tiles; add
 * to cart, go to the cart, the checkout, and place the order, each with a
 * chance; report engagement per page. So every panel of the dashboard has
 * cells above k: tiles and positions, the experiment (arm b converts better),
 * the funnel, custom props, devices; and the heatmaps: clicks on the tiles'
 * pictures where they are at each width and arm, and dead and rage clicks on
 * the product page's picture (which is not a link).
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../observe/logger.js';
import { createMetrics } from '../observe/metrics.js';
import type { WireEvent } from '../wire/types.js';
import { startCollector } from './collector.js';

/** The demo's catalogue, in grid order (examples/storefront/store.js), with how much each appeals. */
const PRODUCTS: readonly { sku: string; appeal: number }[] = [
  { sku: 'usb-c-65w', appeal: 1.3 },
  { sku: 'power-bank-20k', appeal: 1.1 },
  { sku: 'speakerphone', appeal: 0.6 },
  { sku: 'usb-c-hub', appeal: 1.0 },
  { sku: 'lanyard-pack', appeal: 0.5 },
  { sku: 'braided-cable', appeal: 0.9 },
  { sku: 'wireless-charger', appeal: 1.2 },
  { sku: 'car-charger', appeal: 0.8 },
  { sku: 'travel-adapter', appeal: 0.7 },
  { sku: 'webcam-hd', appeal: 0.9 },
  { sku: 'headset', appeal: 1.0 },
  { sku: 'cable-organiser', appeal: 0.4 },
];

/** Real browsers' User-Agents (a headless or library UA would be dropped as a bot), their viewports and shares. */
const DEVICES = [
  { share: 0.55, viewport: { w: 1440, h: 900 }, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  { share: 0.1, viewport: { w: 1280, h: 800 }, ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15' },
  { share: 0.25, viewport: { w: 390, h: 844 }, ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1' },
  { share: 0.1, viewport: { w: 820, h: 1180 }, ua: 'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1' },
] as const;

/**
 * Where a tile's picture is on the demo's grid (examples/storefront/store.css), measured in Chromium: the
 * centres of the columns (at 1024 px and wider, from the page's centre line, for the grid sits in a centred
 * container; narrower, from the left edge, for it does not), the centre of the first row and the step between
 * rows, per window width and arm; and where the picture's centre is in its tile. So the seeded clicks land on
 * the pictures in the dashboard's heatmap, at every width.
 */
interface Grid {
  /** Column centres; `fromCentre`: measured from the page's centre line (else from its left edge). */
  cols: number[];
  fromCentre: boolean;
  /** The first row's picture centre, and the step between rows. */
  y: number;
  step: number;
}
const PICTURES: Record<'a' | 'b', { byWidth: Record<number, Grid>; inTile: [number, number] }> = {
  a: {
    byWidth: {
      1440: { cols: [-353, 0, 353], fromCentre: true, y: 266, step: 348 },
      1280: { cols: [-353, 0, 353], fromCentre: true, y: 266, step: 348 },
      820: { cols: [150, 410, 670], fromCentre: false, y: 314, step: 372 },
      390: { cols: [98, 255, 426], fromCentre: false, y: 386, step: 444 },
    },
    inTile: [0.5, 0.33],
  },
  b: {
    byWidth: {
      1440: { cols: [-394, -131, 132, 395], fromCentre: true, y: 232, step: 296 },
      1280: { cols: [-394, -131, 132, 395], fromCentre: true, y: 232, step: 296 },
      820: { cols: [121, 314, 507, 700], fromCentre: false, y: 280, step: 296 },
      390: { cols: [95, 236, 390, 537], fromCentre: false, y: 352, step: 368 },
    },
    inTile: [0.5, 0.26],
  },
};

/** A click on the picture of tile `index` (0-based) of the grid, as the tracker would send it. */
function pictureClick(arm: 'a' | 'b', viewport: { w: number }, index: number) {
  const grid = PICTURES[arm].byWidth[viewport.w]!;
  const [block_x, block_y] = PICTURES[arm].inTile;
  return {
    selector: `main#app>section.grid>article.product-card:nth-of-type(${index + 1})>a.thumb`,
    label: 'product-card',
    x: 0.5,
    y: 0.5,
    page_x: (grid.fromCentre ? viewport.w / 2 : 0) + grid.cols[index % grid.cols.length]!,
    page_y: grid.y + Math.floor(index / grid.cols.length) * grid.step,
    doc_w: viewport.w,
    block_x,
    block_y,
  };
}

/** The product page's picture (not a link: clicking it does nothing), measured the same way: its centre by window width. */
const PRODUCT_PICTURE: Record<number, { x: number; fromCentre: boolean; y: number }> = {
  1440: { x: -255, fromCentre: true, y: 268 },
  1280: { x: -255, fromCentre: true, y: 268 },
  820: { x: 225, fromCentre: false, y: 268 },
  390: { x: 118, fromCentre: false, y: 292 },
};

/**
 * Clicks on the product picture, as if it would zoom: nothing happens, so each is a dead click; `rage`: three of
 * them in one multi-click, the third a rage click (the tracker judges both in the browser).
 */
function pictureDeadClicks(viewport: { w: number; h: number }, rage: boolean) {
  const at = PRODUCT_PICTURE[viewport.w]!;
  const click = (third: boolean) => ({
    type: 'click' as const,
    viewport,
    click: {
      selector: 'main#app>section.product-detail>div.thumb',
      x: 0.5,
      y: 0.5,
      page_x: (at.fromCentre ? viewport.w / 2 : 0) + at.x,
      page_y: at.y,
      doc_w: viewport.w,
      dead: true,
      ...(third && { rage: true }),
    },
  });
  return rage ? [click(false), click(false), click(true)] : [click(false)];
}

export interface SeedOptions {
  /** How many synthetic visitors (each on a /24 of its own). */
  visitors: number;
  /** The site key and a page origin on one of its hosts. */
  site: string;
  origin: string;
  /** Makes a run repeatable. */
  seed: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

export interface SeedResult {
  visitors: number;
  requests: number;
  events: number;
  /** Requests not answered 202 (none, normally). */
  refused: number;
}

/** mulberry32: a small seeded PRNG, so a seed run is repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const id = (r: () => number) => Array.from({ length: 16 }, () => Math.floor(r() * 36).toString(36)).join('');

/** One synthetic visitor: the requests its tracker would send, page by page (one request a page view). */
export function visitorPages(r: () => number, origin: string): { ua: string; pages: WireEvent[][] } {
  let pick = r();
  const device = DEVICES.find((d) => (pick -= d.share) < 0) ?? DEVICES[0];
  const arm = r() < 0.5 ? 'a' : 'b';
  const variants = { 'grid-layout': arm };
  const pages: WireEvent[][] = [];
  let ts = Date.now();
  const page = (path: string, referrer: string | undefined, extra: (pv: string) => WireEvent[], withArm: boolean): void => {
    const pv = id(r);
    const url = origin + path;
    const base = { pageview_id: pv, url, ...(withArm && { variants }) };
    const events: WireEvent[] = [{ type: 'pageview', id: id(r), ts: (ts += 1000), referrer, viewport: device.viewport, ...base }];
    events.push(...extra(pv).map((e) => ({ ...e, ...base, id: id(r), ts: (ts += 700) })));
    events.push({ type: 'engagement', id: id(r), ts: (ts += 1500), engagement: { visible_ms: Math.round(3000 + r() * 40_000), scroll_depth: Math.round(30 + r() * 70) }, ...base });
    pages.push(events);
  };
  const ev = (e: Omit<WireEvent, 'id' | 'pageview_id' | 'url'>): WireEvent => e as WireEvent;
  const tile = (sku: string, list: string, pos: number) => ({ id: sku, list, pos });

  // The grid: arm b's compact tiles put 8 above the fold, arm a's large ones 6; some visitors scroll to the rest.
  const aboveFold = arm === 'b' ? 8 : 6;
  const scrolls = r() < 0.45;
  const seen = PRODUCTS.slice(0, scrolls ? PRODUCTS.length : aboveFold);
  // Which tile is clicked, if any: its appeal, less the further down it is (the position effect), and more often in arm b.
  const wants = arm === 'b' ? 0.65 : 0.4;
  let chosen: number | undefined;
  if (r() < wants) {
    const weights = seen.map((p, i) => p.appeal / (1 + i * 0.35));
    let w = r() * weights.reduce((a, b) => a + b, 0);
    chosen = weights.findIndex((x) => (w -= x) < 0);
    if (chosen < 0) chosen = weights.length - 1;
  }
  page(
    '/demo/',
    r() < 0.4 ? 'https://www.google.com/' : undefined,
    () => [
      ...seen.map((p, i) => ev({ type: 'impression', item: tile(p.sku, 'home-grid', i + 1) })),
      ...(chosen === undefined ? [] : [ev({ type: 'click', click: pictureClick(arm, device.viewport, chosen), viewport: device.viewport, item: tile(PRODUCTS[chosen]!.sku, 'home-grid', chosen + 1) })]),
    ],
    true,
  );
  if (chosen === undefined) return { ua: device.ua, pages };

  // The product page (a page load): its related tiles, maybe added to the cart.
  const product = PRODUCTS[chosen]!;
  const related = [1, 2, 3].map((d) => PRODUCTS[(chosen! + d) % PRODUCTS.length]!);
  const adds = r() < 0.6;
  page(`/demo/product?sku=${product.sku}`, '/demo/', () => [
    ...related.map((p, i) => ev({ type: 'impression', item: tile(p.sku, 'related', i + 1) })),
    ...(adds ? [ev({ type: 'custom', custom: { name: 'add_to_cart', props: { sku: product.sku, items: 1 } } })] : []),
  ], true);
  // A quarter click the picture as if it would zoom (dead clicks), an eighth again and again (a rage click). Decided by,
  // and named after, the page view's random id, not drawn: the other draws, and the rest of the seed, stay as they were.
  const shown = pages[pages.length - 1]!;
  const pv = shown[0]!;
  const frustration = pv.pageview_id.charCodeAt(0) % 8;
  if (frustration < 2) {
    const clicks = pictureDeadClicks(device.viewport, frustration === 0).map((c, i): WireEvent => ({ ...c, id: `${pv.pageview_id}d${i}`, pageview_id: pv.pageview_id, url: pv.url, ts: pv.ts! + 900 + i * 150, ...(pv.variants && { variants: pv.variants }) }));
    shown.splice(shown.length - 1, 0, ...clicks);
  }
  if (!adds) return { ua: device.ua, pages };
  // The cart (an SPA route: the page load's arm goes on), the checkout and the order.
  page('/demo/cart', '/demo/product', () => [], true);
  if (r() < 0.75) {
    const orders = r() < 0.6;
    page('/demo/checkout', '/demo/cart', () => (orders ? [ev({ type: 'custom', custom: { name: 'checkout_submit', props: { items: 1 } } })] : []), false);
  }
  return { ua: device.ua, pages };
}

/** Sends `opts.visitors` synthetic visitors to the collector at `collectorUrl`, which must trust X-Forwarded-For from this process. */
export async function seedDemoVisitors(collectorUrl: string, opts: SeedOptions): Promise<SeedResult> {
  const r = rng(opts.seed);
  const result: SeedResult = { visitors: opts.visitors, requests: 0, events: 0, refused: 0 };
  const jobs = Array.from({ length: opts.visitors }, (_, i) => ({ i, ...visitorPages(r, opts.origin) }));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const v = jobs[next++]!;
      // A /24 of its own for each visitor: the k rule counts networks as well as visitors.
      const ip = `10.${(v.i >> 8) & 255}.${v.i & 255}.${1 + (v.i % 200)}`;
      for (const events of v.pages) {
        const res = await fetch(`${collectorUrl}/collect`, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': v.ua, 'X-Forwarded-For': ip },
          body: JSON.stringify({ site: opts.site, events }),
        });
        await res.arrayBuffer();
        result.requests++;
        if (res.status === 202) result.events += events.length;
        else result.refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  return result;
}

/**
 * The seed as a process: a collector of its own on a loopback port, trusting X-Forwarded-For from loopback only,
 * the visitors sent through it, then a wait (at most `drainMs`) until the queue is empty, when a worker is running.
 */
export async function runDemoSeed(config: Config, log: Logger, opts: SeedOptions & { drainMs?: number }): Promise<SeedResult & { drained: boolean }> {
  const seedConfig: Config = { ...config, http: { ...config.http, host: '127.0.0.1', trustProxy: 'loopback' } };
  const collector = await startCollector(seedConfig, { log, metrics: createMetrics({ defaultMetrics: false }), port: 0 });
  try {
    const sent = await seedDemoVisitors(collector.url, opts);
    const until = Date.now() + (opts.drainMs ?? 30_000);
    let drained = false;
    while (Date.now() < until) {
      const s = await collector.producer.sample();
      if (s.waiting + s.active + s.delayed === 0) {
        drained = true;
        break;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    return { ...sent, drained };
  } finally {
    await collector.close();
  }
}
