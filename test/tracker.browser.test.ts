/**
 * The tracking script in headless Chromium against the real pipeline
 * (collector → sealed job in Redis → worker → embedded ClickHouse), driven
 * through the demo storefront: page views (including SPA route changes),
 * clicks, engagement, custom events; and what must never be sent: typed
 * text, element text, anything under GPC/DNT or after consent(false).
 *
 * Tests run one after another on one pipeline; each one reads only the rows
 * that arrived after it started, and waits for its own requests to be
 * answered before it ends.
 */
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../src/wire/types.js';
import type { TestPipeline } from './support/pipeline.js';
import { openTrackerSession, runId, setPageHidden, trackerReady, type TrackerSession, useBrowserPipeline } from './support/tracker-session.js';

let p: TestPipeline;
let browser: Browser;

// With an ordinary browser's User-Agent on every request, the beacons of navigations included (tracker-session.ts).
useBrowserPipeline({}, (started) => ({ p, browser } = started));

interface Row {
  type: string;
  path: string;
  utm_campaign: string;
  click_selector: string;
  click_label: string;
  click_x: number;
  click_y: number;
  page_x: number;
  page_y: number;
  viewport_w: number;
  visible_ms: number;
  scroll_depth: number;
  custom_name: string;
  custom_props: Record<string, string>;
}

/** Rows received since `from` (server receive time), once at least `want` of them have arrived. */
async function rowsSince(from: number, want: number): Promise<Row[]> {
  // Stored times are cut to the second (src/anonymise/pipeline.ts formatTimestamp).
  const since = `ts >= fromUnixTimestamp64Milli(toInt64(${Math.floor(from / 1000) * 1000}))`;
  const n = await p.waitForCount(`SELECT count() AS n FROM events WHERE ${since}`, want, 30_000);
  // At least: a beacon sent during a navigation's pagehide may or may not survive headless Chromium.
  expect(n, 'rows in ClickHouse').toBeGreaterThanOrEqual(want);
  return p.rows<Row>(
    `SELECT type, path, utm_campaign, click_selector, click_label, click_x, click_y, page_x, page_y, viewport_w,
            visible_ms, scroll_depth, custom_name, custom_props
     FROM events WHERE ${since} ORDER BY ts`,
  );
}

async function allRowsText(): Promise<string> {
  return JSON.stringify(await p.rows('SELECT * FROM events'));
}

function expectAllAccepted(s: TrackerSession): void {
  expect(s.sent.length).toBeGreaterThan(0);
  expect(s.sent.filter((b) => b.answer !== undefined).length, 'answers read').toBeGreaterThan(0);
  for (const b of s.sent) {
    if (b.failed) {
      // Playwright reports a beacon still in flight when the page navigates as aborted, although
      // the browser delivers it: the row counts in ClickHouse are the proof for those.
      expect(b.failed, b.body).toBe('net::ERR_ABORTED');
      continue;
    }
    expect(b.status, b.body).toBe(202);
    // The answer body can be gone when the page navigated meanwhile; the status is always known.
    if (b.answer !== undefined) expect(b.answer, b.body).toEqual({ accepted: b.batch.events.length, rejected: [] });
    expect(b.batch.site).toBe('demo');
  }
}

const pathOf = (e: WireEvent) => new URL(e.url).pathname;
const ofType = (events: WireEvent[], type: WireEvent['type']) => events.filter((e) => e.type === type);

/** A few ordinary things a visitor does on the demo shop; used where nothing may be sent. */
async function browseAround(page: Page, run: string): Promise<void> {
  await page.goto(`${p.url}/demo/`);
  await trackerReady(page);
  await page.locator('.product-card button.add').first().click();
  await page.click('header nav a[data-route=cart]');
  await page.waitForURL('**/demo/cart');
  await page.evaluate((name) => (window as any).anonAnalytics.track(name, { n: 1 }), `browse_${run}`);
  await setPageHidden(page, true);
  await setPageHidden(page, false);
  await page.click('header nav a[data-route=checkout]');
  await page.waitForURL('**/demo/checkout');
  await page.click('#name');
  await page.keyboard.type('Someone');
  await page.mouse.wheel(0, 3000);
  await page.waitForTimeout(1500); // longer than the tracker's batching delay
}

describe('tracker on the demo storefront', () => {
  it('serves /t.js cacheable and embeddable from any origin, and /collect answers readable cross-origin', async () => {
    const res = await fetch(`${p.url}/t.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${p.url}/t.js`, { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
    const demo = await fetch(`${p.url}/demo/`);
    expect(await demo.text()).toContain('<script defer src="/t.js" data-site="demo" data-query="sku"></script>');
    // /collect answers readable cross-origin (the tracker reads the status and Retry-After of its fetches), and a preflight works.
    const post = await fetch(`${p.url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: 'https://shop.example' }, body: '{}' });
    expect(post.status).toBe(400);
    expect(post.headers.get('access-control-allow-origin')).toBe('*');
    expect(post.headers.get('access-control-expose-headers')).toMatch(/Retry-After/i);
    const pre = await fetch(`${p.url}/collect`, { method: 'OPTIONS', headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('records page views, SPA navigations, clicks, engagement and custom events, and never text', async () => {
    const run = runId();
    const from = Date.now();
    const s = await openTrackerSession(browser);
    const { page } = s;
    const typed = { name: `Typedname${run}`, email: `typed.${run}@example.org`, address: `Typedstreet ${run} 12`, note: `Typednote${run}` };
    const elementText = `Elementtext${run}`;
    // Between full page loads: let the batching delay pass, so nothing is left for the
    // pagehide of a navigation (see finish() in support/tracker-session.ts).
    const settle = () => page.waitForTimeout(1300);

    // 1. Landing page (utm_campaign marks this run's rows).
    await page.goto(`${p.url}/demo/?utm_campaign=${run}`);
    await trackerReady(page);
    // Text and non-tracked attributes the tracker must never read: put a canary in them.
    await page.evaluate((t) => {
      const card = document.querySelector('.product-card')!;
      card.querySelector('.product-link')!.textContent = `${t} charger`;
      card.querySelector('.price')!.textContent = `${t} €39`;
      const add = card.querySelector('button.add')!;
      add.textContent = `${t} add`;
      add.setAttribute('title', t);
      add.setAttribute('aria-label', t);
      document.querySelector('main h1')!.textContent = `${t} heading`; // clicked below, has no data-track label
    }, elementText);
    const add = page.locator('.product-card button.add').first();
    await add.scrollIntoViewIfNeeded();
    const box = (await add.boundingBox())!;
    const scroll = await page.evaluate(() => ({ x: scrollX, y: scrollY }));
    await add.click({ position: { x: 12, y: 7 } });
    const expected = { x: Math.round((12 / box.width) * 100) / 100, page_x: Math.floor((box.x + 12 + scroll.x) / 10) * 10, page_y: Math.floor((box.y + 7 + scroll.y) / 10) * 10 };
    await page.locator('.product-card .price').first().click();
    await page.click('main h1');

    // 2. SPA route change (pushState), back (popstate), and a replaceState to the same URL (no new page view).
    await page.click('header nav a[data-route=cart]');
    await page.waitForURL('**/demo/cart');
    await page.goBack();
    await page.waitForURL(`**/demo/?utm_campaign=${run}`);
    await page.evaluate(() => history.replaceState({ restored: true }, '', location.href));
    await settle();

    // 3. A product page (full page load); hidden for a while, then shown again, then an SPA route to the cart.
    await page.goto(page.url().replace(/\/demo\/.*/, '/demo/product?sku=usb-c-hub'));
    await trackerReady(page);
    const productLoadedAt = await page.evaluate(() => performance.timeOrigin);
    const productEvents = () => s.events().filter((e) => pathOf(e) === '/demo/product');
    await page.waitForTimeout(1000);
    const hiddenAt = await setPageHidden(page, true);
    // Sent at once on hidden visibility, not after the batching delay.
    await expect.poll(() => ofType(productEvents(), 'engagement').length, { timeout: 900, interval: 50 }).toBe(1);
    await page.waitForTimeout(2500 - (Date.now() - hiddenAt));
    const hiddenMs = (await setPageHidden(page, false)) - hiddenAt;
    await page.waitForTimeout(300);
    await page.click('.buy button.add');
    await page.click('header nav a[data-route=cart]');
    await page.waitForURL('**/demo/cart');
    const productLeftAt = Date.now(); // after the SPA route change that sent the product page's engagement
    await settle();

    // 4. Checkout (full page load): type into every kind of field, click inside [data-no-track], scroll to the end.
    await page.goto(page.url().replace(/\/demo\/.*/, '/demo/checkout'));
    await trackerReady(page);
    await page.click('#name', { position: { x: 5, y: 5 } });
    await page.keyboard.type(typed.name);
    await page.click('#email');
    await page.keyboard.type(typed.email);
    await page.click('#address');
    await page.keyboard.type(typed.address);
    await page.selectOption('#country', 'nl');
    await page.click('#gift-note');
    await page.keyboard.type(typed.note);
    await page.click('#secret-button');
    await page.click('#name'); // a field that now holds typed text
    await page.click('p.notice'); // plain text, no label
    await page.mouse.wheel(0, 5000);
    await page.waitForFunction(() => scrollY + innerHeight >= document.documentElement.scrollHeight - 1);
    await page.click('button.place-order');
    expect(await page.context().cookies()).toEqual([]);
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(['demo-cart']); // the shop's own cart
    await s.finish(); // closes the tab: pagehide sends the checkout page's engagement

    // What the browser sent.
    expectAllAccepted(s);
    const events = s.events();
    const pageviews = ofType(events, 'pageview').map((e) => new URL(e.url).pathname + new URL(e.url).search);
    expect(pageviews).toEqual([`/demo/?utm_campaign=${run}`, '/demo/cart', `/demo/?utm_campaign=${run}`, '/demo/product?sku=usb-c-hub', '/demo/cart', '/demo/checkout']);
    // Ids: random per page view / event, fresh on every navigation, never reused.
    expect(new Set(ofType(events, 'pageview').map((e) => e.pageview_id)).size).toBe(6);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) expect(e.id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    const bodies = s.sent.map((b) => b.body).join('\n');
    for (const secret of [...Object.values(typed), elementText, 'Typed', 'Elementtext', 'USB-C hub', 'Add to cart', 'Apply voucher', 'Place order', 'Netherlands']) {
      expect(bodies, `request bodies must not contain ${secret}`).not.toContain(secret);
    }
    expect(bodies).not.toMatch(/"nl"|secret-button|no-track|gift/);

    // What reached ClickHouse: everything the browser sent, plus the engagement sent as the tab closed.
    const rows = await rowsSince(from, events.length + 1);
    expect(await allRowsText()).not.toMatch(new RegExp(`Typed|Elementtext|${run}\\.|${run} `));
    const views = rows.filter((r) => r.type === 'pageview');
    // (Events of one request share the server's receive time: compare as sets, the order is checked above.)
    expect(views.map((r) => r.path).sort()).toEqual(['/demo/', '/demo/', '/demo/cart', '/demo/cart', '/demo/checkout', '/demo/product']);
    expect(views.filter((r) => r.path === '/demo/').map((r) => r.utm_campaign)).toEqual([run, run]);

    const clicks = rows.filter((r) => r.type === 'click');
    const landingAdd = clicks.find((r) => r.path === '/demo/' && r.click_label === 'add-to-cart')!;
    // The first tile's button: tiles are siblings of one kind, told apart by their position.
    expect(landingAdd).toMatchObject({ click_selector: 'main#app>section.grid>article.product-card:nth-of-type(1)>button.add', page_x: expected.page_x, page_y: expected.page_y });
    expect(landingAdd.click_x).toBeCloseTo(expected.x, 2);
    expect(landingAdd.viewport_w).toBeGreaterThan(0);
    expect(clicks.find((r) => r.click_label === 'product-card')?.click_selector).toBe('main#app>section.grid>article.product-card:nth-of-type(1)');
    expect(clicks.filter((r) => r.click_label === 'nav-cart').map((r) => r.path)).toEqual(['/demo/', '/demo/product']);
    expect(clicks.filter((r) => r.path === '/demo/product' && r.click_label === 'add-to-cart')).toHaveLength(1);
    const nameClicks = clicks.filter((r) => r.click_selector.endsWith('input#name[name=name]'));
    expect(nameClicks.map((r) => [r.path, r.click_label])).toEqual([['/demo/checkout', ''], ['/demo/checkout', '']]);
    expect(Math.min(...nameClicks.map((r) => r.click_x))).toBeLessThan(0.1); // the first one, 5 px from its left edge
    expect(clicks.filter((r) => r.click_selector === 'main#app>h1' || r.click_selector === 'main>p.notice').map((r) => r.click_label)).toEqual(['', '']);
    expect(clicks.find((r) => r.click_label === 'place-order')?.click_selector).toBe('main>form.checkout>button.place-order');
    // Nothing from inside [data-no-track] or the contenteditable gift note.
    expect(clicks.filter((r) => /secret|no-track|gift/.test(r.click_selector))).toEqual([]);

    const engagement = rows.filter((r) => r.type === 'engagement');
    // Landing page: closed by the SPA route change to the cart; not scrolled, so less than 100 %.
    const landing = engagement.filter((r) => r.path === '/demo/');
    expect(landing.length).toBeGreaterThanOrEqual(1);
    expect(landing[0]!.scroll_depth).toBeGreaterThan(0);
    expect(landing[0]!.scroll_depth).toBeLessThan(100);
    expect(landing[0]!.visible_ms).toBeGreaterThan(0);
    // Product page: sent on hidden, then again (cumulative) on the SPA route change; hidden time is not counted.
    const product = engagement.filter((r) => r.path === '/demo/product');
    expect(product).toHaveLength(2);
    const productVisible = Math.max(...product.map((r) => r.visible_ms));
    expect(productVisible).toBeGreaterThanOrEqual(1300);
    expect(productVisible).toBeLessThanOrEqual(productLeftAt - productLoadedAt - hiddenMs + 100);
    // Checkout: sent as the tab closed (pagehide), scrolled to the end.
    const checkout = engagement.filter((r) => r.path === '/demo/checkout');
    expect(checkout).toHaveLength(1);
    expect(checkout[0]!.scroll_depth).toBe(100);
    expect(checkout[0]!.visible_ms).toBeGreaterThan(0);

    const custom = rows.filter((r) => r.type === 'custom');
    expect(custom.find((r) => r.custom_name === 'checkout_submit')?.custom_props).toEqual({ items: '2' });
    expect(custom.filter((r) => r.custom_name === 'add_to_cart')).toHaveLength(2);
    expect(s.errors).toEqual([]);
  });

  it('works loaded twice, async, and before <body> exists: one page view, one click, one SPA page view', async () => {
    const run = runId();
    const from = Date.now();
    const s = await openTrackerSession(browser);
    const { page } = s;
    const path = `/demo/embed-${run}`;
    await page.route(`${p.url}${path}`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html><head><link rel="icon" href="data:,">
          <script src="/t.js" data-site="demo"></script>
          <script>window.bodyAtStart = document.body; window.readyAtStart = !!(window.anonAnalytics && window.anonAnalytics.v);</script>
          </head><body><script async src="/t.js?copy=2" data-site="demo"></script><script defer src="/t.js" data-site="demo"></script>
          <main style="height:3000px"><button id="go" data-track="embed-button">Go somewhere</button></main></body></html>`,
      }),
    );
    await page.goto(`${p.url}${path}`);
    await page.waitForLoadState('load');
    await page.waitForFunction(() => document.querySelectorAll('script[src^="/t.js"]').length === 3);
    await page.waitForTimeout(300); // let the async copy run
    expect(await page.evaluate(() => [(window as any).bodyAtStart, (window as any).readyAtStart])).toEqual([null, true]);
    await page.click('#go');
    await page.evaluate((next) => {
      history.pushState(null, '', next);
      history.pushState(null, '', next); // same URL again: no second page view
      history.replaceState(null, '', next + '#section'); // fragment only: no page view
    }, `${path}/next`);
    await s.finish();

    expectAllAccepted(s);
    const events = s.events();
    expect(ofType(events, 'pageview').map(pathOf)).toEqual([path, `${path}/next`]);
    expect(ofType(events, 'click')).toHaveLength(1);
    expect(ofType(events, 'click')[0]!.click).toMatchObject({ selector: 'main>button#go', label: 'embed-button' });
    for (const e of events) expect(e.url).not.toContain('#');
    const rows = await rowsSince(from, events.length + 1); // + the engagement sent as the tab closed
    expect(rows.filter((r) => r.type === 'pageview').map((r) => r.path)).toEqual([path, `${path}/next`]);
    expect(await allRowsText()).not.toContain('Go somewhere');
    expect(s.errors).toEqual([]);
  });

  it('works loaded async only; custom events are checked in the page and the API never throws', async () => {
    const run = runId();
    const from = Date.now();
    const s = await openTrackerSession(browser);
    const { page } = s;
    const path = `/demo/async-${run}`;
    await page.route(`${p.url}${path}`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html><head><link rel="icon" href="data:,"><script async src="/t.js" data-site="demo"></script></head>
          <body><main><p>Async</p></main></body></html>`,
      }),
    );
    await page.goto(`${p.url}${path}`);
    await trackerReady(page);
    const calls = (name: string) => {
      const a = (window as any).anonAnalytics;
      const attempts = [
        () => a.track('bad name!'),
        () => a.track(null),
        () => a.track(name, { constructor: 1, 'bad key': 1, fn: () => 1, nested: { x: 1 }, big: 1e300, ok: 'yes', n: 3, flag: false, long: 'x'.repeat(400) }),
        () => a.track(name, 'not an object'),
      ];
      return attempts.filter((f) => {
        try {
          f();
          return false;
        } catch {
          return true;
        }
      }).length;
    };
    expect(await page.evaluate(calls, `checked_${run}`)).toBe(0);
    await expect.poll(() => ofType(s.events(), 'custom').length, { timeout: 5000 }).toBe(2);
    // consent() without an argument withdraws consent (the safe reading); consent(true) resumes with a new page view.
    expect(
      await page.evaluate(() => {
        const a = (window as any).anonAnalytics;
        a.consent();
        a.consent(true);
        history.pushState(null, '', location.href); // same URL: no page view
        return Object.keys(localStorage).length;
      }),
    ).toBe(0);
    await s.finish();

    expectAllAccepted(s);
    const events = s.events();
    expect(ofType(events, 'pageview').map(pathOf)).toEqual([path, path]);
    expect(ofType(events, 'custom').map((e) => e.custom)).toEqual([
      { name: `checked_${run}`, props: { ok: 'yes', n: 3, flag: false, long: 'x'.repeat(128) } },
      { name: `checked_${run}`, props: {} },
    ]);
    const rows = await rowsSince(from, events.length + 1); // + the engagement sent as the tab closed
    expect(rows.filter((r) => r.type === 'pageview').map((r) => r.path)).toEqual([path, path]);
    expect(rows.filter((r) => r.type === 'custom').map((r) => r.custom_props.ok ?? null).sort()).toEqual(['yes', null].sort());
    expect(s.errors).toEqual([]);
  });

  for (const [signal, initScript] of [
    ['Global Privacy Control', `Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });`],
    ['Do Not Track', `Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1', configurable: true });`],
  ] as const) {
    it(`sends nothing under ${signal}`, async () => {
      const run = runId();
      const from = Date.now();
      const s = await openTrackerSession(browser, { initScript });
      await browseAround(s.page, run);
      expect(await s.page.evaluate(() => (window as any).anonAnalytics.v)).toBe(1); // the tracker ran
      expect(await s.page.evaluate(() => Object.keys(localStorage))).toEqual([]);
      await s.finish();
      expect(s.sent).toEqual([]);
      expect(s.errors).toEqual([]);

      // Control: the same visit without the signal is recorded (so the assertions can fail).
      const controlFrom = Date.now();
      const control = await openTrackerSession(browser);
      await browseAround(control.page, run);
      await control.finish();
      expectAllAccepted(control);
      expect(ofType(control.events(), 'custom').map((e) => e.custom?.name)).toContain(`browse_${run}`);
      // The control's rows (including the engagement sent as its tab closed) have arrived;
      // nothing from the first visit, not even at its tab's close, is there.
      await rowsSince(controlFrom, control.events().length + 1);
      const first = await p.rows<{ n: string }>(
        // Stored times are cut to the second: the control's first second is left out of the window.
        `SELECT count() AS n FROM events WHERE ts >= fromUnixTimestamp64Milli(toInt64(${from})) AND ts < fromUnixTimestamp64Milli(toInt64(${Math.floor(controlFrom / 1000) * 1000}))`,
      );
      expect(Number(first[0]!.n)).toBe(0);
    });
  }

  it('stops at once on consent(false), remembers it across pages, and resumes on consent(true)', async () => {
    const run = runId();
    const s = await openTrackerSession(browser);
    const { page } = s;
    await page.goto(`${p.url}/demo/`);
    await trackerReady(page);
    await expect.poll(() => s.sent.length, { timeout: 5000 }).toBeGreaterThan(0);
    // Everything the landing page had to send is delivered (its page view, and impressions of the tiles in view
    // for 1 s): no new request for 1.5 s. Under load a request the page issued earlier can reach the test later.
    for (let seen = -1; seen !== s.sent.length; ) {
      seen = s.sent.length;
      await page.waitForTimeout(1500);
    }
    const before = s.sent.length;
    const optedOutAt = Date.now();
    // Queued but not yet sent when consent is withdrawn: must never leave the page.
    await page.evaluate((name) => {
      (window as any).anonAnalytics.track(name);
      (window as any).anonAnalytics.consent(false);
    }, `queued_${run}`);
    expect(await page.evaluate(() => ({ ...localStorage }))).toEqual({ 'anonAnalytics.optOut': '1' });
    await page.locator('.product-card button.add').first().click();
    await page.click('header nav a[data-route=cart]');
    await page.waitForURL('**/demo/cart');
    await page.evaluate((name) => (window as any).anonAnalytics.track(name), `after_${run}`);
    await setPageHidden(page, true);
    await setPageHidden(page, false);
    // A new page load remembers the opt-out.
    await page.click('header nav a[data-route=checkout]');
    await page.waitForURL('**/demo/checkout');
    await trackerReady(page);
    await page.click('#name');
    await page.keyboard.type('Nobody');
    await page.evaluate((name) => (window as any).anonAnalytics.track(name), `remembered_${run}`);
    await page.waitForTimeout(1500);
    expect(s.sent.length).toBe(before);
    expect(await page.textContent('#consent-state')).toMatch(/off/);

    // Opting in again (the demo's own button) resumes with a fresh page view.
    const resumedFrom = Date.now();
    await page.click('footer button[data-consent=yes]');
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
    await page.evaluate((name) => (window as any).anonAnalytics.track(name, { ok: true }), `resumed_${run}`);
    await s.finish();
    expectAllAccepted(s);
    const after = s.sent.slice(before).flatMap((b) => b.batch.events);
    expect(after.map((e) => e.type)).toEqual(['pageview', 'custom']);
    const names = s.events().flatMap((e) => (e.custom ? [e.custom.name] : []));
    expect(names).toEqual([`resumed_${run}`]);

    const rows = await rowsSince(resumedFrom, after.length + 1); // + the engagement sent as the tab closed
    // Stored times are to the second, so rows of one second come in any order: compared as a set.
    expect(rows.map((r) => [r.type, r.path, r.custom_name]).sort()).toEqual(
      [
        ['pageview', '/demo/checkout', ''],
        ['custom', '/demo/checkout', `resumed_${run}`],
        ['engagement', '/demo/checkout', ''],
      ].sort(),
    );
    expect(await allRowsText()).not.toMatch(new RegExp(`queued_${run}|after_${run}|remembered_${run}`));
    const whileOut = await p.rows<{ n: string }>(
      `SELECT count() AS n FROM events WHERE ts >= fromUnixTimestamp64Milli(toInt64(${optedOutAt})) AND ts < fromUnixTimestamp64Milli(toInt64(${Math.floor(resumedFrom / 1000) * 1000}))`,
    );
    expect(Number(whileOut[0]!.n)).toBe(0);
    expect(s.errors).toEqual([]);
  });

  describe('transport: fetch while visible, sendBeacon when hidden, Retry-After', () => {
    /** The collector's own CORS headers, so that a faked 429/503 is readable as a real one would be. */
    async function collectorCors(): Promise<Record<string, string>> {
      const real = await fetch(`${p.url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
      return { 'Access-Control-Allow-Origin': real.headers.get('access-control-allow-origin')!, 'Access-Control-Expose-Headers': real.headers.get('access-control-expose-headers')! };
    }

    /** A session whose n-th request to /collect (from 0) is refused with `status` + Retry-After when `refuse(n)`. */
    async function refusingSession(refuse: (n: number) => boolean, status: 429 | 503, retryAfter: string, initScript?: string) {
      const cors = await collectorCors();
      const s = await openTrackerSession(browser, { initScript });
      let n = 0;
      await s.page.route(`${p.url}/collect`, (route) =>
        refuse(n++)
          ? route.fulfill({ status, contentType: 'application/json', headers: { ...cors, 'Retry-After': retryAfter }, body: '{"error":"retry later"}' })
          : route.continue(),
      );
      return s;
    }
    // A 429/503 answer to a fetch is a network message Chromium logs itself, not an error of the script.
    const scriptErrors = (s: TrackerSession) => s.errors.filter((e) => !/status of (429|503)/.test(e));
    const ids = (b: { batch: { events: WireEvent[] } }) => b.batch.events.map((e) => e.id);
    const track = (page: Page, name: string, times = 1) =>
      page.evaluate(([n, k]) => {
        for (let i = 0; i < k; i++) (window as any).anonAnalytics.track(n, { i });
      }, [name, times] as const);

    it('sends by fetch (answer read) while visible and by sendBeacon when the page is hidden', async () => {
      const run = runId();
      const s = await openTrackerSession(browser);
      // The cart: a page without product tiles, so no impressions go out between the events counted here.
      await s.page.goto(`${p.url}/demo/cart?utm_campaign=${run}`);
      await trackerReady(s.page);
      await expect.poll(() => s.sent.filter((b) => b.answer !== undefined).length, { timeout: 5000 }).toBe(1);
      expect(s.sent[0]).toMatchObject({ kind: 'fetch', status: 202, answer: { accepted: 1, rejected: [] } });
      await track(s.page, `hide_${run}`);
      await setPageHidden(s.page, true); // flushed at once, by beacon
      await expect.poll(() => s.sent.length, { timeout: 900, interval: 50 }).toBe(2);
      expect(s.sent[1]!.kind).toBe('ping');
      expect(s.sent[1]!.batch.events.map((e) => e.type)).toEqual(['custom', 'engagement']);
      await setPageHidden(s.page, false);
      await track(s.page, `shown_${run}`);
      await s.finish();
      expect(s.sent.map((b) => b.kind)).toEqual(['fetch', 'ping', 'fetch']);
      expectAllAccepted(s);
      expect(s.errors).toEqual([]);
    });

    for (const [how, initScript] of [
      ['refuses the body', `Navigator.prototype.sendBeacon = function () { return false; };`],
      ['is missing', `delete Navigator.prototype.sendBeacon;`],
    ] as const) {
      it(`falls back to a keepalive fetch on hide when sendBeacon ${how}`, async () => {
        const run = runId();
        const from = Date.now();
        const s = await openTrackerSession(browser, { initScript });
        await s.page.goto(`${p.url}/demo/cart?utm_campaign=${run}`);
        await trackerReady(s.page);
        await track(s.page, `fallback_${run}`);
        await setPageHidden(s.page, true);
        await expect.poll(() => s.sent.length, { timeout: 900, interval: 50 }).toBe(1);
        expect(s.sent[0]!.kind).toBe('fetch');
        expect(s.sent[0]!.batch.events.map((e) => e.type)).toEqual(['pageview', 'custom', 'engagement']);
        await s.finish();
        expectAllAccepted(s);
        const rows = await rowsSince(from, 3);
        expect(rows.filter((r) => r.custom_name === `fallback_${run}`)).toHaveLength(1);
        expect(s.errors).toEqual([]);
      });
    }

    it('holds everything while a 503 Retry-After lasts (even on hide), then delivers the refused batch and what came meanwhile', async () => {
      const run = runId();
      const from = Date.now();
      const s = await refusingSession((n) => n === 0, 503, '2');
      const { page } = s;
      await page.goto(`${p.url}/demo/?utm_campaign=${run}`);
      await trackerReady(page);
      await expect.poll(() => s.sent[0]?.status, { timeout: 5000, interval: 20 }).toBe(503);
      const refusedAt = Date.now();
      expect(s.sent[0]!.kind).toBe('fetch');
      // While held: more than a batch of events (which would otherwise be sent at once), clicks, a hide.
      await track(page, `held_${run}`, 12);
      await page.locator('.product-card button.add').first().click();
      await setPageHidden(page, true);
      await page.waitForTimeout(300);
      await setPageHidden(page, false);
      await page.waitForTimeout(1500 - (Date.now() - refusedAt));
      expect(s.sent, 'nothing is sent before Retry-After has passed').toHaveLength(1);
      // ... and everything is sent once it has.
      await expect.poll(() => s.sent.length, { timeout: 3000, interval: 20 }).toBeGreaterThan(1);
      const [first, second] = s.sent;
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1900);
      expect(second!.at - refusedAt).toBeLessThan(2000 + 1000);
      expect(ids(second!).slice(0, first!.batch.events.length)).toEqual(ids(first!)); // the refused batch first, once
      await s.finish();
      expect(s.sent.map((b) => b.kind)).not.toContain('ping'); // the hide sent nothing
      for (const b of s.sent.slice(1)) expect(b.status, b.body).toBe(202);
      const later = s.sent.slice(1).flatMap((b) => b.batch.events);
      expect(ofType(later, 'custom').filter((e) => e.custom?.name === `held_${run}`)).toHaveLength(12);
      expect(ofType(later, 'click').length).toBeGreaterThanOrEqual(1);
      expect(ofType(later, 'engagement').length).toBeGreaterThanOrEqual(1);
      expect(new Set(later.map((e) => e.id)).size).toBe(later.length);
      const rows = await rowsSince(from, later.length);
      expect(rows.filter((r) => r.type === 'pageview' && r.utm_campaign === run)).toHaveLength(1);
      expect(rows.filter((r) => r.custom_name === `held_${run}`)).toHaveLength(12);
      expect(scriptErrors(s)).toEqual([]);
    });

    it('never loops: a batch refused twice is dropped', async () => {
      const run = runId();
      const s = await refusingSession(() => true, 429, '1');
      await s.page.goto(`${p.url}/demo/cart?utm_campaign=${run}`);
      await trackerReady(s.page);
      await s.page.waitForTimeout(5000);
      const sentWhileOpen = s.sent.length;
      await s.page.close();
      await s.context.close();
      expect(sentWhileOpen).toBe(2);
      expect(s.sent[1]!.at - s.sent[0]!.at).toBeGreaterThanOrEqual(900);
      expect(ids(s.sent[1]!)).toEqual(ids(s.sent[0]!));
      expect(scriptErrors(s)).toEqual([]);
    });

    it('drops only what was refused twice: newer events in the same batch keep their one retry', async () => {
      const run = runId();
      const from = Date.now();
      const s = await refusingSession((n) => n < 2, 429, '1');
      await s.page.goto(`${p.url}/demo/cart?utm_campaign=${run}`);
      await trackerReady(s.page);
      await expect.poll(() => s.sent[0]?.status, { timeout: 5000, interval: 20 }).toBe(429);
      await track(s.page, `newer_${run}`); // queued during the pause: goes out with the retried page view
      await expect.poll(() => s.sent[1]?.status, { timeout: 3000, interval: 20 }).toBe(429);
      await expect.poll(() => s.sent[2]?.status, { timeout: 3000, interval: 20 }).toBe(202);
      const [first, second, third] = s.sent;
      expect(ofType(first!.batch.events, 'pageview')).toHaveLength(1);
      expect(second!.batch.events.map((e) => e.type)).toEqual(['pageview', 'custom']);
      expect(third!.batch.events.map((e) => e.type)).toEqual(['custom']);
      expect(ids(third!)).toEqual([second!.batch.events[1]!.id]);
      expect(third!.at - second!.at).toBeGreaterThanOrEqual(900);
      await s.page.waitForTimeout(1500);
      expect(s.sent).toHaveLength(3);
      await s.finish();
      const rows = await rowsSince(from, 1);
      expect(rows.filter((r) => r.custom_name === `newer_${run}`)).toHaveLength(1);
      expect(rows.filter((r) => r.type === 'pageview' && r.utm_campaign === run)).toEqual([]);
      expect(scriptErrors(s)).toEqual([]);
    });
  });

  it('sends to data-endpoint when it is set (another origin, answer read through CORS)', async () => {
    const run = runId();
    const from = Date.now();
    const endpoint = 'http://collector.test/collect';
    const s = await openTrackerSession(browser);
    const { page } = s;
    const path = `/demo/endpoint-${run}`;
    await page.route(`${p.url}${path}`, (route) =>
      route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html><head><link rel="icon" href="data:,"><script defer src="/t.js" data-site="demo" data-endpoint="${endpoint}"></script></head>
          <body><main><button id="go" data-track="endpoint-button">Go</button></main></body></html>`,
      }),
    );
    // collector.test stands for a collector on another origin: the requests are forwarded to the real one.
    await page.route(endpoint, async (route) => route.fulfill({ response: await route.fetch({ url: `${p.url}/collect` }) }));
    await page.goto(`${p.url}${path}`);
    await trackerReady(page);
    await page.click('#go');
    await page.evaluate((name) => (window as any).anonAnalytics.track(name), `endpoint_${run}`);
    await expect.poll(() => s.sent.filter((b) => b.status !== undefined).length, { timeout: 5000 }).toBeGreaterThan(0);
    await s.finish();
    expectAllAccepted(s);
    expect(new Set(s.sent.map((b) => b.url))).toEqual(new Set([endpoint]));
    const events = s.events();
    expect(events.map((e) => e.type)).toEqual(['pageview', 'click', 'custom']);
    const rows = await rowsSince(from, events.length);
    expect(rows.filter((r) => r.path === path).map((r) => r.type).slice(0, 3)).toEqual(['pageview', 'click', 'custom']);
    expect(s.errors).toEqual([]);
  });
});
