/** The anonymiser end to end, as a pure function: one request in, anonymised rows and counted drops out. */
import { describe, expect, it } from 'vitest';
import { anonymiseRequest, formatTimestamp } from './pipeline.js';
import { createDeviceParser } from './device.js';
import type { AnonymiseConfig } from './types.js';
import type { CollectedRequest } from '../wire/types.js';
import type { WireEvent } from '../wire/types.js';

const config: AnonymiseConfig = { ipv4Prefix: 24, ipv6Prefix: 48, sites: { shop: ['shop.example', 'localhost:8080'] }, queryAllowlist: ['variant'] };
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36';
const salt = Buffer.alloc(32, 1);
const T = Date.UTC(2026, 10, 25, 12, 0, 0, 123);

const ev = (patch: Partial<WireEvent>): WireEvent => ({ type: 'pageview', id: 'k3J9x2abcd', pageview_id: 'Qm81abcdef', url: 'https://shop.example/', ...patch });
const request = (events: WireEvent[], ctx: Partial<CollectedRequest['ctx']> = {}): CollectedRequest => ({
  ctx: { site: 'shop', ip: '198.51.100.213', userAgent: UA, receivedAt: T, ...ctx },
  events,
});
const run = (req: CollectedRequest) => anonymiseRequest(req, salt, { config, device: createDeviceParser() });

describe('anonymiseRequest', () => {
  it('shapes anonymised rows from every event type, with no client value, address or UA in them', () => {
    const out = run(
      request([
        ev({ url: 'https://shop.example/u/jane.doe@example.com?variant=black&email=jane@example.com#top', referrer: 'https://www.google.com/search?q=jane', viewport: { w: 1452, h: 917 } }),
        ev({ type: 'click', id: 'k3J9x2abce', url: 'https://shop.example/p', click: { selector: 'div#jane.doe@example.com>button.add', label: 'add', x: 0.123, y: 0.456, page_x: 817, page_y: 1203 } }),
        ev({ type: 'engagement', id: 'k3J9x2abcf', url: 'https://shop.example/p', engagement: { visible_ms: 27_000.4, scroll_depth: 80 } }),
        ev({ type: 'custom', id: 'k3J9x2abcg', url: 'https://shop.example/cart', custom: { name: 'checkout_start', props: { items: 2, email: 'jane@example.com' } } }),
      ]),
    );
    expect(out.dropped).toEqual({});
    expect(out.unknownIp).toBe(0);
    expect(out.rows).toHaveLength(4);
    const [pv, click, eng, custom] = out.rows;
    expect(pv).toMatchObject({
      site: 'shop',
      // to the second: milliseconds would join with an order time or an access log
      ts: '2026-11-25 12:00:00.000',
      path: '/u/:email',
      query: 'variant=black',
      referrer_host: 'google.com',
      ip_prefix: '198.51.100.0/24',
      browser: 'Chrome',
      os: 'Windows',
      device_type: 'desktop',
      viewport_w: 1440,
      viewport_h: 900,
    });
    expect(click).toMatchObject({ click_selector: 'div>button.add', click_label: 'add', click_x: 0.12, click_y: 0.46, page_x: 810, page_y: 1200 });
    expect(eng).toMatchObject({ visible_ms: 27_000, scroll_depth: 80 });
    expect(custom).toMatchObject({ custom_name: 'checkout_start', custom_props: { items: '2' } });
    // One visitor, one page view (same client pageview_id), distinct event ids; all keyed hashes.
    expect(new Set(out.rows.map((r) => r.visitor_id)).size).toBe(1);
    expect(new Set(out.rows.map((r) => r.pageview_id)).size).toBe(1);
    expect(new Set(out.rows.map((r) => r.event_id)).size).toBe(4);
    const text = JSON.stringify(out.rows);
    for (const leak of ['198.51.100.213', '6778.86', 'Mozilla', 'k3J9x2', 'Qm81', 'jane', '#top', 'de-CH']) expect(text).not.toContain(leak);
  });

  it("applies the site's rules: route templates, query keys, label allowlist, prop rules; counts dropped values", () => {
    const siteRules = {
      shop: { routes: ['/wishlist/:id'], query: ['sku'], selectors: ['hero-xmas'], labels: ['hero-xmas'], props: { position: ['top', 'bottom'] } },
    };
    const out = anonymiseRequest(
      request([
        ev({ url: 'https://shop.example/wishlist/zelda-quixote?sku=USB-C-65W&q=zelda', referrer: 'https://shop.example/wishlist/zelda-quixote' }),
        ev({ type: 'click', id: 'k3J9x2abce', url: 'https://shop.example/', click: { selector: 'div#hero-xmas>a#user-zelda', label: 'zelda-quixote', x: 0, y: 0, page_x: 0, page_y: 0 } }),
        ev({ type: 'click', id: 'k3J9x2abcf', url: 'https://shop.example/', click: { selector: 'a', label: 'hero-xmas', x: 0, y: 0, page_x: 0, page_y: 0 } }),
        ev({ type: 'custom', id: 'k3J9x2abcg', url: 'https://shop.example/', custom: { name: 'promo_view', props: { position: 'left', note: 'For Zelda Quixote', items: 2 } } }),
      ]),
      salt,
      { config: { ...config, siteRules }, device: createDeviceParser() },
    );
    const [pv, c1, c2, custom] = out.rows;
    expect(pv).toMatchObject({ path: '/wishlist/:id', query: 'sku=usb-c-65w', referrer_host: '' });
    expect(c1).toMatchObject({ click_selector: 'div#hero-xmas>a', click_label: '' });
    expect(c2).toMatchObject({ click_label: 'hero-xmas' });
    expect(custom!.custom_props).toEqual({ items: '2' });
    expect(out.valuesDropped).toEqual({ label: 1, prop_rule: 1, prop_free_text: 1 });
    expect(JSON.stringify(out.rows)).not.toMatch(/zelda/i);
  });

  it('keeps the items and layout arms a shop marked, as slugs; drops impressions of items that are not, and counts what it drops', () => {
    const variants = { 'grid-layout': 'b', greeting: 'Dear_Zelda' };
    const out = run(
      request([
        ev({ variants }),
        ev({ type: 'impression', id: 'k3J9x2abch', item: { id: 'usb-c-65w', list: 'home-grid', pos: 2 }, variants }),
        ev({ type: 'impression', id: 'k3J9x2abcl', item: { id: 'USB-C-65W', list: 'home-grid', pos: 4 } }),
        ev({ type: 'impression', id: 'k3J9x2abci', item: { id: 'Zelda Quixote', list: 'home-grid', pos: 3 } }),
        ev({ type: 'click', id: 'k3J9x2abcj', click: { selector: 'article.product-card>a', x: 0.5, y: 0.5, page_x: 10, page_y: 10 }, item: { id: 'usb-c-65w', list: 'Jane Doe', pos: 2 } }),
        ev({ type: 'click', id: 'k3J9x2abck', click: { selector: 'article.product-card>a', x: 0.5, y: 0.5, page_x: 10, page_y: 10 }, item: { id: 'jane@example.com' } }),
      ]),
    );
    expect(out.dropped).toEqual({ invalid_item: 2 });
    expect(out.valuesDropped).toEqual({ variant: 2, item: 1 });
    expect(out.rows.map((r) => [r.type, r.item_id, r.item_list, r.item_pos, r.variants])).toEqual([
      ['pageview', '', '', 0, { 'grid-layout': 'b' }],
      ['impression', 'usb-c-65w', 'home-grid', 2, { 'grid-layout': 'b' }],
      ['click', 'usb-c-65w', '', 2, {}],
      ['click', '', '', 0, {}],
    ]);
    expect(JSON.stringify(out.rows)).not.toMatch(/zelda|jane/i);
  });

  it('stores a click measured from the centre line, its place in a kept tile, and the frustration the browser saw', () => {
    const click = { selector: 'main>section.grid>article.tile:nth-of-type(2)>button.add', x: 0.5, y: 0.5, page_x: 819, page_y: 448, doc_w: 1500, block_x: 0.497, block_y: 0.889, dead: true };
    const out = run(
      request([
        // 1500 px wide (bucket 1440): 69 px right of the centre line, placed on a 1440 px page: 789, floored to 780.
        ev({ type: 'click', id: 'k3J9x2abce', viewport: { w: 1500, h: 900 }, click, item: { id: 'usb-c-hub', list: 'home-grid', pos: 2 } }),
        // The same click without a tile that is kept: no place in a tile.
        ev({ type: 'click', id: 'k3J9x2abcf', viewport: { w: 1500, h: 900 }, click: { ...click, rage: true }, item: { id: 'Jane Doe' } }),
      ]),
    );
    expect(out.rows.map((r) => [r.page_x, r.block_x, r.block_y, r.click_rage, r.click_dead, r.viewport_w])).toEqual([
      [780, 0.5, 0.89, 0, 1, 1440],
      [780, 0, 0, 1, 1, 1440],
    ]);
  });

  it('keeps a place in a labelled block outside tiles only when the label is kept; stores a quick back on its engagement', () => {
    const click = { selector: 'section.promo>div.copy', label: 'promo-banner', x: 0.25, y: 0.25, page_x: 420, page_y: 300, doc_w: 1440, block_x: 0.8, block_y: 0.8 };
    const out = run(
      request([
        ev({ type: 'click', id: 'k3J9x2abce', viewport: { w: 1440, h: 900 }, click }),
        // A label that is not kept (a person's name): its block is not either.
        ev({ type: 'click', id: 'k3J9x2abcf', viewport: { w: 1440, h: 900 }, click: { ...click, label: 'zelda-quixote' } }),
        ev({ type: 'engagement', id: 'k3J9x2abcg', engagement: { visible_ms: 2140, scroll_depth: 38, quick_back: true } }),
        ev({ type: 'engagement', id: 'k3J9x2abch', engagement: { visible_ms: 9000, scroll_depth: 38 } }),
      ]),
    );
    expect(out.rows.map((r) => [r.type, r.click_label, r.block_x, r.block_y, r.quick_back])).toEqual([
      ['click', 'promo-banner', 0.8, 0.8, 0],
      ['click', '', 0, 0, 0],
      ['engagement', '', 0, 0, 1],
      ['engagement', '', 0, 0, 0],
    ]);
  });

  it('drops bots before anything is hashed, and counts them', () => {
    const out = run(request([ev({}), ev({ id: 'k3J9x2abce' })], { userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' }));
    expect(out).toEqual({ rows: [], dropped: { bot: 2 }, valuesDropped: {}, unknownIp: 0 });
  });

  it('stores a refused address as unknown and counts it', () => {
    for (const ip of ['0xc0.168.1.1', '3232235777', 'fe80::1%eth0', '']) {
      const out = run(request([ev({})], { ip }));
      expect(out.unknownIp, ip).toBe(1);
      expect(out.rows[0]!.ip_prefix).toBe('');
    }
  });

  it('truncates an IPv6 client, and an IPv6 that embeds an IPv4 as that IPv4', () => {
    expect(run(request([ev({})], { ip: '2001:db8:c0de:cafe::1' })).rows[0]!.ip_prefix).toBe('2001:db8:c0de::/48');
    expect(run(request([ev({})], { ip: '2002:c633:64d5::1' })).rows[0]!.ip_prefix).toBe('198.51.100.0/24');
  });

  it('drops and counts events of foreign hosts, non-http URLs and unsafe custom names; internal referrers keep only a path', () => {
    const out = run(
      request([
        ev({ url: 'https://evil.example/' }),
        ev({ url: 'javascript:alert(1)' }),
        ev({ type: 'custom', url: 'https://shop.example/', custom: { name: 'order:4111111111111111' } }),
        ev({ url: 'http://localhost:8080/a', referrer: 'http://localhost:8080/u/jane.doe@example.com?x=1' }),
      ]),
    );
    expect(out.dropped).toEqual({ host_mismatch: 1, invalid_url: 1, invalid_custom: 1 });
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ referrer_host: '' });
  });

  it('gives the same ids for a redelivered request, and other ids under another day\'s salt', () => {
    const req = request([ev({})]);
    const a = run(req).rows[0]!;
    const b = run(req).rows[0]!;
    expect([b.event_id, b.pageview_id, b.visitor_id]).toEqual([a.event_id, a.pageview_id, a.visitor_id]);
    const c = anonymiseRequest(req, Buffer.alloc(32, 2), { config, device: createDeviceParser() }).rows[0]!;
    expect(c.visitor_id).not.toBe(a.visitor_id);
    expect(c.pageview_id).not.toBe(a.pageview_id);
    expect(c.event_id).not.toBe(a.event_id);
  });

  it('never collapses two visitors who send the same client ids into one event', () => {
    const events = [ev({}), ev({ type: 'click', id: 'c1ickId00', click: { selector: 'main>button', x: 0.5, y: 0.5, page_x: 10, page_y: 10 } })];
    const a = run(request(events)).rows;
    const b = run(request(events, { ip: '203.0.113.77' })).rows;
    expect(b.map((r) => r.event_id)).not.toContain(a[0]!.event_id);
    expect(b.map((r) => r.event_id)).not.toContain(a[1]!.event_id);
    expect(b[0]!.visitor_id).not.toBe(a[0]!.visitor_id);
  });

  it('formats the receive time as ClickHouse DateTime64(3) UTC, cut to the second', () => {
    expect(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02 03:04:05.000');
    expect(formatTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 999))).toBe('2026-01-02 03:04:05.000');
  });
});
