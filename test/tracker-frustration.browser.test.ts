/**
 * What the tracker judges in the browser (issue 14), in headless Chromium with
 * the real pipeline: rage clicks (≥ 3 clicks within 1 s within 30 px), dead
 * clicks (no DOM, text, focus change or navigation within 1 s), quick backs
 * (a page left by going back within 5 s: the Navigation API), the innermost
 * meaningful child and form-control names in selectors, and block coordinates
 * inside a data-track block. Each case asserts what is sent and what is not
 * (a control that must not be flagged), and what is stored.
 *
 * Fixture pages are served by the browser context's route (same origin as the
 * collector's demo site), so their markup is in this file.
 */
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { WireEvent } from '../src/wire/types.js';
import type { TestPipeline } from './support/pipeline.js';
import { openTrackerSession, runId, timedClicks, trackerReady, type TrackerSession, useBrowserPipeline } from './support/tracker-session.js';

let p: TestPipeline;
let browser: Browser;

useBrowserPipeline({ TRUST_PROXY: 'loopback' }, (started) => ({ p, browser } = started));

const page = (title: string, body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{margin:0;font:16px sans-serif} .pad{height:60px} .box{display:block;width:300px;height:100px;background:#eee;margin:20px}</style>
<script defer src="/t.js" data-site="demo"></script></head><body>${body}</body></html>`;

/** A session whose fixture pages (path → html) are served at the collector's origin. */
async function session(pages: Record<string, string>, opts: { initScript?: string } = {}): Promise<TrackerSession> {
  const s = await openTrackerSession(browser, { forwardedFor: '10.15.0.7', ...opts });
  for (const [path, html] of Object.entries(pages)) {
    await s.page.route(new RegExp(`^${p.url}${path}(\\?.*)?$`), (r) => r.fulfill({ contentType: 'text/html', body: html }));
  }
  return s;
}

async function open(s: TrackerSession, path: string, run: string): Promise<void> {
  await s.page.goto(`${p.url}${path}?utm_campaign=${run}`);
  await trackerReady(s.page);
}

/**
 * A click on something that is not a control is held a second (is it dead?), then batched for a second: waited out
 * before the page is closed, so that it goes by fetch, which the session records (a beacon at close is not recorded).
 */
const HELD_AND_BATCHED = 2500;

const clicks = (s: TrackerSession) => s.events().filter((e) => e.type === 'click').map((e) => e.click!);

/**
 * Single clicks (detail 1 each: not one multi-click) at the given offsets from the element's top-left corner, with
 * event times `gapMs` apart (exactly, however loaded the machine: timedClicks).
 */
async function clickAt(pg: Page, selector: string, offsets: [number, number][], gapMs: number): Promise<void> {
  const b = (await pg.locator(selector).boundingBox())!;
  await timedClicks(pg, offsets.map(([dx, dy], i) => ({ x: b.x + dx, y: b.y + dy, atMs: i * gapMs })));
}

describe('rage clicks: three clicks within 1 s within 30 px', () => {
  it('flags the third of a burst once; clicks spread wider than 30 px or over more than a second are not rage', async () => {
    const run = runId();
    const s = await session({ '/demo/fixtures/rage': page('rage', '<div class="pad"></div><div class="hero box"></div><div class="banner box"></div><div class="teaser box"></div>') });
    await open(s, '/demo/fixtures/rage', run);
    // Four clicks at one spot (within 12 px), 100 ms apart: the third is rage, the fourth is not again.
    await clickAt(s.page, 'div.hero', [[50, 50], [58, 50], [50, 58], [54, 54]], 100);
    // Three quick clicks, each 40 px from the last (80 px end to end): no two of the three within 30 px of the third.
    // (Event times a second and more after the last burst's: timedClicks counts from now.)
    await s.page.waitForTimeout(1500);
    await clickAt(s.page, 'div.banner', [[20, 50], [60, 50], [100, 50]], 100);
    await s.page.waitForTimeout(1500);
    // Three clicks at one spot, 600 ms apart: the first is over a second old at the third.
    await clickAt(s.page, 'div.teaser', [[50, 50], [50, 50], [50, 50]], 600);
    await s.page.waitForTimeout(HELD_AND_BATCHED);
    await s.finish();
    const sent = clicks(s);
    const rage = (sel: string) => sent.filter((c) => c.selector === sel).map((c) => c.rage ?? false);
    expect(rage('div.hero.box')).toEqual([false, false, true, false]);
    expect(rage('div.banner.box')).toEqual([false, false, false]);
    expect(rage('div.teaser.box')).toEqual([false, false, false]);
    const stored = await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'click' AND utm_campaign = '${run}'`, 10);
    expect(stored).toBe(10);
    const rows = await p.rows<{ sel: string; rage: number }>(
      `SELECT click_selector AS sel, sum(click_rage) AS rage FROM events WHERE type = 'click' AND utm_campaign = '${run}' GROUP BY sel ORDER BY sel`,
    );
    expect(rows.map((r) => [r.sel, Number(r.rage)])).toEqual([
      ['div.banner.box', 0],
      ['div.hero.box', 1],
      ['div.teaser.box', 0],
    ]);
  });
});

describe('dead clicks: no DOM, text or focus change and no navigation within 1 s', () => {
  it('is dead when nothing reacts, alive when only a text node changes, when the focus moves, or when the page is left', async () => {
    const run = runId();
    const body = `<div class="hero box"></div>
<div class="badge box"><span id="n">0</span></div>
<div class="panel box"></div><input id="field" name="search">
<div class="promo box"></div>
<script>
  // Only the text node's data changes (characterData): no element, no attribute.
  document.querySelector('.badge').addEventListener('click', () => { const t = document.getElementById('n').firstChild; t.data = String(+t.data + 1); });
  document.querySelector('.panel').addEventListener('click', () => document.getElementById('field').focus());
  document.querySelector('.promo').addEventListener('click', () => { location.href = '/demo/fixtures/dead-next?utm_campaign=${run}'; });
</script>`;
    const s = await session({ '/demo/fixtures/dead': page('dead', body), '/demo/fixtures/dead-next': page('next', '<p>next</p>') });
    await open(s, '/demo/fixtures/dead', run);
    for (const id of ['div.hero', 'div.badge', 'div.panel']) {
      await s.page.click(id);
      await s.page.waitForTimeout(1300); // each judged alone, past its second
    }
    await s.page.waitForTimeout(HELD_AND_BATCHED);
    const held = s.sent.length;
    await Promise.all([s.page.waitForURL('**/dead-next?*'), s.page.click('div.promo')]);
    await trackerReady(s.page);
    await s.finish();
    const sent = clicks(s);
    const dead = (sel: string) => sent.filter((c) => c.selector === sel).map((c) => c.dead ?? false);
    expect(dead('div.hero.box')).toEqual([true]);
    expect(dead('div.badge.box')).toEqual([false]);
    expect(dead('div.panel.box')).toEqual([false]);
    expect(held).toBeGreaterThan(0);
    // The click that navigated went by beacon while the page was left (not seen by the browser's request log): stored, not dead.
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'click' AND utm_campaign = '${run}'`, 4);
    const rows = await p.rows<{ sel: string; dead: number }>(
      `SELECT click_selector AS sel, click_dead AS dead FROM events WHERE type = 'click' AND utm_campaign = '${run}' ORDER BY sel`,
    );
    expect(rows.map((r) => [r.sel, Number(r.dead)])).toEqual([
      ['div.badge.box', 0],
      ['div.hero.box', 1],
      ['div.panel.box', 0],
      ['div.promo.box', 0],
    ]);
  });
});

describe('selectors: the icon clicked inside a control, and form-control names', () => {
  it('names the icon a click lands on and the control a field is, never what was typed', async () => {
    const run = runId();
    const body = `<ul class="actions">
<li><a href="#w"><i class="fa fa-heart"></i></a></li><li><a href="#c"><i class="fa fa-retweet"></i></a></li><li><a href="#b"><i class="fa fa-shopping-cart"></i></a></li>
</ul>
<a class="link" href="#p"><span>text in a span without a class</span></a>
<form class="checkout"><input name="email"><input name="zelda_quixote"><select name="country"><option>x</option></select></form>`;
    const s = await session({ '/demo/fixtures/icons': page('icons', body.replace(/<i /g, '<i style="display:inline-block;width:20px;height:20px" ')) });
    await open(s, '/demo/fixtures/icons', run);
    for (const icon of ['i.fa-heart', 'i.fa-retweet', 'i.fa-shopping-cart']) await s.page.click(icon);
    await s.page.click('a.link span');
    await s.page.click('input[name=email]');
    await s.page.keyboard.type('canary.person@example.com');
    await s.page.click('input[name=zelda_quixote]');
    await s.page.click('select[name=country]');
    await s.finish();
    const sent = clicks(s).map((c) => c.selector);
    expect(sent).toEqual([
      'ul.actions>li:nth-of-type(1)>a>i.fa.fa-heart',
      'ul.actions>li:nth-of-type(2)>a>i.fa.fa-retweet',
      'ul.actions>li:nth-of-type(3)>a>i.fa.fa-shopping-cart',
      // A child without a class is not a meaningful child: the link it is in.
      'a.link',
      // Two inputs, alike but for their names: told apart by their positions as well.
      'form.checkout>input[name=email]:nth-of-type(1)',
      'form.checkout>input[name=zelda_quixote]:nth-of-type(2)',
      'form.checkout>select[name=country]',
    ]);
    expect(JSON.stringify(s.events())).not.toContain('canary');
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'click' AND utm_campaign = '${run}'`, 7);
    const stored = await p.rows<{ sel: string }>(`SELECT click_selector AS sel FROM events WHERE type = 'click' AND utm_campaign = '${run}' ORDER BY sel`);
    // The worker keeps a name under the label rule: `email` and `country` are design tokens, a person's name is not.
    expect(stored.map((r) => r.sel)).toEqual([
      'a.link',
      'form.checkout>input:nth-of-type(2)',
      'form.checkout>input[name=email]:nth-of-type(1)',
      'form.checkout>select[name=country]',
      'ul.actions>li:nth-of-type(1)>a>i.fa.fa-heart',
      'ul.actions>li:nth-of-type(2)>a>i.fa.fa-retweet',
      'ul.actions>li:nth-of-type(3)>a>i.fa.fa-shopping-cart',
    ]);
  });
});

describe('blocks: a click inside a data-track block', () => {
  it('gets coordinates relative to the block, like a tile; outside any block, none', async () => {
    const run = runId();
    const body = `<div class="pad"></div>
<section class="promo" data-track="promo-banner" style="margin-left:100px;width:400px;height:200px;position:relative;background:#ddd">
  <button class="cta" type="button" style="position:absolute;left:300px;top:150px;width:80px;height:40px;padding:0;border:0"></button>
</section>
<div class="box"></div>`;
    const s = await session({ '/demo/fixtures/block': page('block', body) });
    await open(s, '/demo/fixtures/block', run);
    const cta = (await s.page.locator('button.cta').boundingBox())!;
    // A button in the labelled block: 20 px into the 80 × 40 button (0.25), 320 px across and 160 px down the
    // 400 × 200 block (0.8).
    await s.page.mouse.click(cta.x + 20, cta.y + 10);
    await s.page.click('div.box');
    await s.page.waitForTimeout(HELD_AND_BATCHED);
    await s.finish();
    const [inBlock, outside] = clicks(s);
    expect(inBlock).toMatchObject({ selector: 'section.promo>button.cta', label: 'promo-banner', x: 0.25, y: 0.25, block_x: 0.8, block_y: 0.8 });
    expect(outside!.block_x).toBeUndefined();
    expect(outside!.block_y).toBeUndefined();
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'click' AND utm_campaign = '${run}'`, 2);
    const rows = await p.rows<{ sel: string; label: string; bx: number; by: number }>(
      `SELECT click_selector AS sel, click_label AS label, block_x AS bx, block_y AS by FROM events WHERE type = 'click' AND utm_campaign = '${run}' ORDER BY sel`,
    );
    expect(rows.map((r) => [r.sel, r.label, Number(r.bx.toFixed(2)), Number(r.by.toFixed(2))])).toEqual([
      ['div.box', '', 0, 0],
      ['section.promo>button.cta', 'promo-banner', 0.8, 0.8],
    ]);
  });
});

describe('quick backs: a page left by going back within 5 s', () => {
  const pages = (run: string) => ({
    '/demo/fixtures/qb-list': page('list', `<a id="to-item" href="/demo/fixtures/qb-item?utm_campaign=${run}">item</a>`),
    '/demo/fixtures/qb-item': page('item', `<a id="to-other" href="/demo/fixtures/qb-other?utm_campaign=${run}">other</a>`),
    '/demo/fixtures/qb-other': page('other', '<p>other</p>'),
  });
  /** The stored engagement rows of a page of this run: [quick_back] in order of visible time. */
  const engagements = (run: string, path: string) =>
    p.rows<{ qb: number }>(`SELECT quick_back AS qb FROM events WHERE type = 'engagement' AND path = {path:String} AND utm_campaign = {run:String} ORDER BY visible_ms`, { path, run });

  it('sets quick_back on the last engagement of a page left by Back within 5 s, and on no other', async () => {
    const run = runId();
    const s = await session(pages(run));
    await open(s, '/demo/fixtures/qb-list', run);
    // list → item, back within a second: a quick back from the item page.
    await Promise.all([s.page.waitForURL('**/qb-item?*'), s.page.click('#to-item')]);
    await trackerReady(s.page);
    await s.page.waitForTimeout(800);
    await s.page.goBack();
    await trackerReady(s.page);
    // Forward again (a traversal, but not back: the list page is not a quick back), then item → other by a link.
    await s.page.goForward();
    await trackerReady(s.page);
    await Promise.all([s.page.waitForURL('**/qb-other?*'), s.page.click('#to-other')]);
    await trackerReady(s.page);
    await s.finish();
    // The engagements of pages left by navigation go by beacon: read them where they were stored.
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'engagement' AND utm_campaign = '${run}'`, 5);
    const all = await p.rows<{ path: string; qb: number }>(
      `SELECT path, quick_back AS qb FROM events WHERE type = 'engagement' AND utm_campaign = '${run}' ORDER BY path, qb`,
    );
    expect(all.filter((r) => Number(r.qb) === 1).map((r) => r.path)).toEqual(['/demo/fixtures/qb-item']);
    expect(all.filter((r) => r.path === '/demo/fixtures/qb-item').map((r) => Number(r.qb))).toEqual([0, 1]);
    // Nothing else in any row says so.
    expect(await p.rows(`SELECT type FROM events WHERE quick_back = 1 AND type != 'engagement' AND utm_campaign = '${run}'`)).toEqual([]);
  });

  it('does not set it when Back comes after 5 s of the page being seen', async () => {
    const run = runId();
    const s = await session(pages(run));
    await open(s, '/demo/fixtures/qb-list', run);
    await Promise.all([s.page.waitForURL('**/qb-item?*'), s.page.click('#to-item')]);
    await trackerReady(s.page);
    await s.page.waitForTimeout(5300);
    await s.page.goBack();
    await trackerReady(s.page);
    await s.finish();
    await p.waitForCount(`SELECT count() AS n FROM events WHERE type = 'engagement' AND path = '/demo/fixtures/qb-item' AND utm_campaign = '${run}'`, 1);
    const item = await engagements(run, '/demo/fixtures/qb-item');
    expect(item.map((r) => Number(r.qb))).toEqual([0]);
  });

  it('sets it on an SPA route left by history.back() within 5 s (sent by fetch: seen in the request)', async () => {
    const run = runId();
    const spa = page('spa', `<button id="go" type="button">go</button>
<script>document.getElementById('go').addEventListener('click', () => history.pushState({}, '', '/demo/fixtures/spa-detail?utm_campaign=${run}'));</script>`);
    const s = await session({ '/demo/fixtures/spa': spa });
    await open(s, '/demo/fixtures/spa', run);
    await s.page.click('#go');
    await s.page.waitForTimeout(500);
    await s.page.evaluate(() => history.back());
    await s.page.waitForURL('**/fixtures/spa?*');
    await s.finish();
    const engagement = s.events().filter((e: WireEvent) => e.type === 'engagement');
    const detail = engagement.filter((e) => e.url.includes('spa-detail'));
    expect(detail.map((e) => e.engagement!.quick_back ?? false)).toEqual([true]);
    // The first page left by pushState (a push, not back): no flag.
    expect(engagement.filter((e) => !e.url.includes('spa-detail')).every((e) => e.engagement!.quick_back === undefined)).toBe(true);
  });
});
