/**
 * Hidden canaries (issue 12, item 3): a corpus of personal data as people
 * write it (names of several languages and scripts, street addresses, phone
 * numbers of several countries in their local formats, an email address in
 * many encodings, order and customer numbers) hidden where shops and
 * templates put them: paths, query strings, UTM values, referrers,
 * selectors, labels and custom props. Sent through the whole pipeline with
 * the demo shop's configuration (the SITES default), then every column of
 * every table, every Redis key and value, and the process logs are scanned
 * for every canary, as written, lowercased and slugified. None may be there;
 * the anonymised shape of each event must be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireEvent } from '../src/wire/types.js';
import { batch, EventBuilder } from './support/builders.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';

const NAMES = ['Zelda Quixote', 'Gwendolyn Pettibone', 'José María Ñúñez', 'Åsa Öberg-Lindqvist', "Siobhán O'Flaherty", 'Nguyễn Thị Hương', '李小龍', 'Mohammed Al-Fayyadh'];
const ADDRESSES = ['12 Canary Lane', 'Rue de la Mésange 7', 'Hauptstraße 221b', '4 Privet Drive, Little Whinging'];
const PHONES = ['+44 20 7946 0958', '(212) 555-0147', '030 98765432', '06 12 34 56 78', '+81 3-1234-5678', '0412 345 678', '+49 (0)30 1234 5678'];
const EMAIL = 'zelda.quixote@example.com';
const EMAILS = [EMAIL, 'zelda.quixote%40example.com', 'zelda.quixote%2540example.com', 'zelda.quixote(at)example.com', 'zelda.quixote＠example.com', 'zelda.quixote&#64;example.com', 'ZELDA.QUIXOTE@EXAMPLE.COM', 'mailto:zelda.quixote@example.com'];
const ORDERS = ['ORD-2025-884127', 'CUST-77C3QZ', 'INV 2025/00431'];

/** What must appear nowhere: distinctive fragments of each canary, as written, lowercased and slugified. */
const FRAGMENTS = [
  'quixote', 'pettibone', 'gwendolyn', 'ñúñez', 'nunez', 'lindqvist', 'öberg', 'oberg', 'siobhán', 'siobhan', 'flaherty', 'nguyễn', 'hương', '李小龍',
  'fayyadh', 'canary lane', 'canary-lane', 'canary%20lane', 'mésange', 'mesange', 'hauptstraße', 'hauptstrasse', '221b', 'privet', 'whinging',
  // Digit fragments keep a separator, or are long enough (8+) not to turn up by chance inside a 20-digit id.
  '20 7946', '7946 0958', '79460958', '555-0147', '5550147', '98765432', '12 34 56 78', '0612345678', '3-1234-5678', '1234 5678', '345 678',
  '-884127', '884127.', '77c3qz', '2025/00431', '2025%2f00431',
];

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ QUERY_ALLOWLIST: 'variant' });
});
afterAll(async () => {
  await p?.close();
});

const enc = encodeURIComponent;
const slug = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-');
const L = (path: string) => `http://localhost${path}`;

function corpus(): WireEvent[] {
  const ev: EventBuilder[] = [];
  // Paths: under a route template, after a segment naming a person, as typed free text.
  for (const n of NAMES) {
    ev.push(EventBuilder.pageview(L(`/demo/wishlist/${enc(slug(n))}`)));
    ev.push(EventBuilder.pageview(L(`/demo/gift/${enc(n)}`)));
    ev.push(EventBuilder.pageview(L(`/demo/customer/${enc(slug(n))}/addresses`)));
  }
  for (const a of ADDRESSES) ev.push(EventBuilder.pageview(L(`/demo/ship-to/${enc(a)}`)), EventBuilder.pageview(L(`/demo/account/addresses/${enc(slug(a))}`)));
  for (const ph of PHONES) ev.push(EventBuilder.pageview(L(`/demo/call/${enc(ph)}`)));
  for (const e of EMAILS) ev.push(EventBuilder.pageview(L(`/demo/contact/${e.includes('%') ? e : enc(e)}`)));
  for (const o of ORDERS) ev.push(EventBuilder.pageview(L(`/demo/orders/${enc(o)}`)), EventBuilder.pageview(L(`/demo/account/orders/${enc(o)}/invoice`)), EventBuilder.pageview(L(`/demo/track/${enc(o)}`)));
  // Query strings and UTM values (a GET search or checkout form, a newsletter link).
  ev.push(
    EventBuilder.pageview(
      L(
        `/demo/product?sku=${enc(NAMES[0]!)}&variant=${enc(ADDRESSES[0]!)}&fname=Zelda&lname=Quixote&email=${enc(EMAIL)}&tel=${enc(PHONES[0]!)}` +
          `&utm_source=${enc(EMAIL)}&utm_medium=${enc(PHONES[1]!)}&utm_campaign=${enc(NAMES[1]!)}&utm_term=${enc(NAMES[0]!)}&utm_content=${enc(ADDRESSES[0]!)}`,
      ),
    ),
    EventBuilder.pageview(L(`/demo/search?q=${enc(`${NAMES[0]} ${ADDRESSES[0]}`)}&utm_campaign=${enc(ORDERS[0]!)}&utm_source=${enc(PHONES[2]!)}`)),
  );
  // Referrers: personal subdomains, mailboxes, search result pages, our own pages.
  for (const r of [
    'https://zelda-quixote.example.net/',
    'https://mail.google.com/mail/u/0/inbox/zelda.quixote@example.com',
    'https://zelda-quixote.blogspot.co.uk/2025/12/12-canary-lane.html',
    'https://zelda-quixote.github.io/wishlist',
    `https://www.google.com/search?q=${enc(`${NAMES[0]} ${ADDRESSES[0]}`)}`,
    `http://localhost/demo/wishlist/${slug(NAMES[1]!)}`,
    `http://localhost/demo/gift/${enc(NAMES[2]!)}`,
    `http://localhost/demo/orders/${ORDERS[0]}`,
    'https://884127.example.org/',
  ]) {
    ev.push(EventBuilder.pageview(L('/demo/')).referrer(r));
  }
  // Clicks: ids and classes a template filled in, labels made of data.
  const click = (selector: string, label?: string) =>
    EventBuilder.click(L('/demo/cart')).with({ click: { selector, ...(label === undefined ? {} : { label }), x: 0.5, y: 0.5, page_x: 100, page_y: 200 } });
  ev.push(
    click('main>div#user-zelda-quixote>li.owner-gwendolyn-pettibone>button.add', 'zelda-quixote'),
    click(`section#order-${ORDERS[0]}>a.link`, 'order-884127'),
    click('div.address-12-canary-lane>span.price', 'ship-to-hauptstrasse-221b'),
    click('div#cust-77c3qz.card>a', slug(NAMES[3]!)),
    click('button.add', 'Gwendolyn Pettibone'),
    click('button.add', 'call-0612345678'),
    click('button.add', 'add-to-cart'),
  );
  // Custom props: free text under innocent keys, personal keys, rule-breaking values.
  const custom = (props: Record<string, string | number | boolean>) => EventBuilder.custom(L('/demo/checkout')).with({ custom: { name: 'checkout_start', props } });
  ev.push(
    custom({ recipient: NAMES[0]!, gift_message: `Happy birthday! ${ADDRESSES[0]}`, to: NAMES[1]!, items: 2 }),
    custom({ note: EMAILS[4]!, contact: EMAIL, deliver_to: ADDRESSES[1]!, when: PHONES[4]!, sku: NAMES[2]! }),
    custom({ ref: ORDERS[0]!, comment: `${NAMES[5]} ${PHONES[3]}`, greeting: NAMES[6]!, items: 'Zelda Quixote' }),
  );
  // Product tiles and layout arms (issue 13): names, contacts and order numbers as item ids, list names, experiments
  // and arms. A click keeps its other data without its item; an impression keeps its (good) item without its list.
  const inTile = (id: string) => EventBuilder.click(L('/demo/')).with({ click: { selector: 'article.product-card>a', x: 0.5, y: 0.5, page_x: 10, page_y: 10 }, item: { id, list: 'home-grid', pos: 2 } });
  const listed = (list: string) => EventBuilder.impression(L('/demo/')).with({ item: { id: 'usb-c-65w', list, pos: 1 } });
  ev.push(
    inTile(NAMES[0]!), inTile('Zelda_Quixote'), inTile(EMAIL), inTile(PHONES[0]!), inTile(ORDERS[0]!), inTile(NAMES[6]!),
    listed(NAMES[1]!), listed('Gwendolyn_Pettibone'), listed(ADDRESSES[2]!),
    EventBuilder.pageview(L('/demo/')).with({ variants: { greeting: 'Zelda_Quixote', Pettibone: 'a', layout: 'b', 'ORD-2025-884127': 'x' } }),
  );
  return ev.map((e) => e.build());
}

describe('hidden canaries: personal data in every place a shop puts it', () => {
  it('appears in no table, no Redis key or value and no log line', async () => {
    const events = corpus();
    for (let i = 0; i < events.length; i += 40) expect((await p.post(batch(events.slice(i, i + 40)))).status).toBe(202);
    expect(await p.waitForCount('SELECT count() n FROM events', events.length)).toBe(events.length);

    // The anonymised shape is there.
    const rows = await p.rows<Record<string, any>>('SELECT * FROM events');
    const paths = new Set(rows.map((r) => r.path));
    for (const want of ['/demo/wishlist/:id', '/demo/gift/:id', '/demo/customer/:id/addresses', '/demo/account/*', '/demo/orders/:id', '/demo/call/:phone', '/demo/contact/:email', '/demo/product']) {
      expect(paths, want).toContain(want);
    }
    const product = rows.find((r) => r.path === '/demo/product')!;
    expect(product).toMatchObject({ query: 'sku=:id&variant=:id', utm_source: ':email', utm_medium: ':phone', utm_campaign: ':id', utm_term: '', utm_content: '' });
    expect([...new Set(rows.map((r) => r.referrer_host))].sort()).toEqual(['', 'blogspot.co.uk', 'example.net', 'example.org', 'github.io', 'google.com']);
    const clicks = rows.filter((r) => r.type === 'click');
    expect(clicks.filter((c) => c.click_selector !== 'article.product-card>a').map((c) => c.click_selector).sort()).toEqual(['button.add', 'button.add', 'button.add', 'div.card>a', 'div>span.price', 'main>div>li>button.add', 'section>a.link']);
    // Tiles and arms keep what is a lowercase slug, and nothing else.
    expect(clicks.filter((c) => c.click_selector === 'article.product-card>a').map((c) => [c.item_id, c.item_list, c.item_pos])).toEqual(Array(6).fill(['', '', 0]));
    expect(rows.filter((r) => r.type === 'impression').map((r) => [r.item_id, r.item_list])).toEqual(Array(3).fill(['usb-c-65w', '']));
    expect(rows.filter((r) => Object.keys(r.variants).length).map((r) => r.variants)).toEqual([{ layout: 'b' }]);
    expect(clicks.map((c) => c.click_label).filter(Boolean)).toEqual(['add-to-cart']);
    expect(rows.filter((r) => r.type === 'custom').map((r) => r.custom_props)).toEqual(expect.arrayContaining([{ items: '2' }]));
    const dropped = await p.app.metrics.valuesDropped.get();
    expect(dropped.values.reduce((n, v) => n + v.value, 0)).toBeGreaterThanOrEqual(12);

    // Every column of every table.
    const tables = await p.rows<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView')");
    expect(tables.length).toBeGreaterThanOrEqual(10);
    const places: [string, string][] = [];
    for (const t of tables) places.push([`table ${t.name}`, JSON.stringify(await p.rows(`SELECT * FROM ${t.name}`))]);
    // Every Redis key and value, and the logs.
    places.push(['Redis', await p.redisDump()], ['logs', p.logs.join('')]);
    for (const [where, text] of places) {
      // JSON escapes non-ASCII only when asked to; compare on the decoded, lowercased text.
      const hay = text.toLowerCase();
      for (const f of FRAGMENTS) expect(hay, `${where} holds ${f}`).not.toContain(f.toLowerCase());
    }
  });
});
