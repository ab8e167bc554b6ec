import { describe, expect, it } from 'vitest';
import { batch, EventBuilder } from '../../test/support/builders.js';
import { BatchError, validateBatch } from './validate.js';

const sites = { demo: ['localhost', '127.0.0.1'], shop: ['shop.example', 'shop.example:8443'] };

function batchError(body: unknown): BatchError {
  try {
    validateBatch(body, sites);
  } catch (e) {
    if (e instanceof BatchError) return e;
    throw e;
  }
  throw new Error('expected a BatchError');
}

/** A click with every heatmap field (issue 14), with `patch` over its click data. */
function heatmapClick(patch: Record<string, unknown>) {
  const e = EventBuilder.click('http://localhost/demo/').build();
  const click: Record<string, unknown> = { ...e.click!, doc_w: 1440, block_x: 0.5, block_y: 0.9, rage: true, dead: true, ...patch };
  for (const k of Object.keys(click)) if (click[k] === undefined) delete click[k];
  e.click = click as unknown as typeof e.click;
  return e;
}

describe('validateBatch', () => {
  it('accepts every event type of wire format v1', () => {
    const b = batch([EventBuilder.pageview().referrer('https://www.google.com/'), EventBuilder.click(), EventBuilder.engagement(), EventBuilder.custom()]);
    const v = validateBatch(b, sites);
    expect(v.events).toHaveLength(4);
    expect(v.rejected).toEqual([]);
    expect(v.events[1]!.click).toEqual(b.events[1]!.click);
  });

  it('takes the layout extension of v1: impressions, items on clicks, variants on any event', () => {
    const variants = { 'grid-layout': 'b', hero: 'Big_1' };
    const b = batch([
      EventBuilder.pageview().with({ variants }),
      EventBuilder.impression().with({ variants }),
      EventBuilder.click().with({ item: { id: 'usb-c-65w', list: 'home-grid', pos: 3 }, variants }),
      EventBuilder.impression().with({ item: { id: 'x' } }),
    ]);
    const v = validateBatch(b, sites);
    expect(v.rejected).toEqual([]);
    expect(v.events.map((e) => [e.type, e.item, e.variants])).toEqual([
      ['pageview', undefined, variants],
      ['impression', { id: 'usb-c-65w', list: 'home-grid', pos: 1 }, variants],
      ['click', { id: 'usb-c-65w', list: 'home-grid', pos: 3 }, variants],
      ['impression', { id: 'x' }, undefined],
    ]);
  });

  it.each([
    ['impression without item', EventBuilder.impression().with({ item: undefined }).build(), /item: required/, 'item'],
    ['item on a pageview', EventBuilder.pageview().with({ item: { id: 'a' } }).build(), /pageview: unknown key "item"/, 'unknown_key'],
    ['item on an engagement', EventBuilder.engagement().with({ item: { id: 'a' } }).build(), /engagement: unknown key "item"/, 'unknown_key'],
    ['empty item id', EventBuilder.impression().with({ item: { id: '' } }).build(), /item.id: required/, 'item'],
    ['long item id', EventBuilder.impression().with({ item: { id: 'a'.repeat(65) } }).build(), /item.id: longer than 64/, 'item'],
    ['long list', EventBuilder.impression().with({ item: { id: 'a', list: 'l'.repeat(65) } }).build(), /item.list: longer than 64/, 'item'],
    ['position 0', EventBuilder.impression().with({ item: { id: 'a', pos: 0 } }).build(), /item.pos: must be between 1 and 10000/, 'item'],
    ['fractional position', EventBuilder.impression().with({ item: { id: 'a', pos: 1.5 } }).build(), /item.pos: must be an integer/, 'item'],
    ['item extra key', EventBuilder.impression().with({ item: { id: 'a', name: 'Jane' } as never }).build(), /item: unknown key "name"/, 'unknown_key'],
    ['variants not an object', EventBuilder.pageview().with({ variants: ['a:b'] as never }).build(), /variants: must be an object/, 'variants'],
    ['six experiments', EventBuilder.pageview().with({ variants: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`e${i}`, 'a'])) }).build(), /at most 5/, 'variants'],
    ['experiment with a colon', EventBuilder.pageview().with({ variants: { 'a:b': 'c' } }).build(), /experiment "a:b" is not allowed/, 'variants'],
    ['experiment "constructor"', EventBuilder.pageview().with({ variants: JSON.parse('{"constructor":"a"}') }).build(), /experiment "constructor"/, 'variants'],
    ['arm with a space', EventBuilder.pageview().with({ variants: { layout: 'Jane Doe' } }).build(), /the arm of "layout"/, 'variants'],
    ['numeric arm', EventBuilder.pageview().with({ variants: { layout: 2 as never } }).build(), /the arm of "layout"/, 'variants'],
    // The heatmap extension of clicks (issue 14).
    ['fractional document width', heatmapClick({ doc_w: 1439.5 }), /click.doc_w: must be an integer/, 'click'],
    ['document width too large', heatmapClick({ doc_w: 100_001 }), /click.doc_w: must be between 0 and 100000/, 'click'],
    ['tile x without y', heatmapClick({ block_y: undefined }), /click.block_y: must be a finite number/, 'click'],
    ['tile y out of range', heatmapClick({ block_y: 1.5 }), /click.block_y: must be between 0 and 1/, 'click'],
    ['rage as a number', heatmapClick({ rage: 1 as never }), /click.rage: must be true or false/, 'click'],
    ['dead as a string', heatmapClick({ dead: 'yes' as never }), /click.dead: must be true or false/, 'click'],
    ['the old block_up', heatmapClick({ block_up: 1 } as never), /click: unknown key "block_up"/, 'unknown_key'],
    ['quick_back as a number', EventBuilder.engagement().with({ engagement: { visible_ms: 900, scroll_depth: 10, quick_back: 1 as never } }).build(), /engagement.quick_back: must be true or false/, 'engagement'],
  ])('rejects %s', (_name, e, reason, field) => {
    const v = validateBatch({ site: 'demo', events: [e] }, sites);
    expect(v.events).toHaveLength(0);
    expect(v.rejected[0]!.reason).toMatch(reason);
    expect(v.rejected[0]!.field).toBe(field);
  });

  it('takes the heatmap extension of clicks: document width, position in the tile, rage and dead; all optional', () => {
    const full = heatmapClick({});
    const v = validateBatch({ site: 'demo', events: [full, EventBuilder.click().build()] }, sites);
    expect(v.rejected).toEqual([]);
    expect(v.events[0]!.click).toEqual(full.click);
    expect(v.events[1]!.click).not.toHaveProperty('doc_w');
  });

  it('takes quick_back on an engagement (issue 14), optional', () => {
    const flagged = EventBuilder.engagement().with({ engagement: { visible_ms: 2140, scroll_depth: 38, quick_back: true } }).build();
    const v = validateBatch({ site: 'demo', events: [flagged, EventBuilder.engagement().build()] }, sites);
    expect(v.rejected).toEqual([]);
    expect(v.events[0]!.engagement).toEqual({ visible_ms: 2140, scroll_depth: 38, quick_back: true });
    expect(v.events[1]!.engagement).not.toHaveProperty('quick_back');
  });

  it('refuses batch-level problems with 400/403 and a message', () => {
    expect(batchError(null)).toMatchObject({ status: 400 });
    expect(batchError([])).toMatchObject({ status: 400 });
    expect(batchError({ events: [] }).message).toMatch(/"site" is required/);
    expect(batchError({ site: 'Demo\r\nX', events: [] }).message).toMatch(/site/);
    expect(batchError({ site: 'nope', events: [{}] })).toMatchObject({ status: 403, message: 'unknown site "nope"' });
    expect(batchError({ site: 'demo', events: [] }).message).toMatch(/non-empty array/);
    expect(batchError({ site: 'demo' }).message).toMatch(/non-empty array/);
    expect(batchError({ site: 'demo', events: new Array(51).fill(EventBuilder.pageview().build()) }).message).toMatch(/at most 50/);
    expect(batchError({ site: 'demo', events: [EventBuilder.pageview().build()], extra: 1 }).message).toMatch(/unknown key "extra"/);
    expect(batchError({ site: 'constructor', events: [EventBuilder.pageview().build()] })).toMatchObject({ status: 403 });
  });

  it('answers 403 when no event belongs to the site hosts, and rejects single foreign events otherwise', () => {
    expect(batchError(batch([EventBuilder.pageview('https://evil.example/')]))).toMatchObject({ status: 403 });
    const v = validateBatch(batch([EventBuilder.pageview('https://evil.example/'), EventBuilder.pageview()]), sites);
    expect(v.events).toHaveLength(1);
    expect(v.rejected).toEqual([{ index: 0, reason: 'url: host is not configured for this site', field: 'host' }]);
    expect(validateBatch(batch([EventBuilder.pageview('https://shop.example:8443/x')], 'shop'), sites).events).toHaveLength(1);
  });

  it.each([
    ['unknown key', { foo: 1 }, /unknown key "foo"/],
    ['bad type', { type: 'hover' }, /type: must be one of/],
    ['short id', { id: 'abc' }, /id: must be 8–64/],
    ['id with spaces', { id: 'abc def ghi' }, /id: must be/],
    ['non-http url', { url: 'javascript:alert(1)' }, /http\(s\) URL/],
    ['huge url', { url: 'http://localhost/' + 'a'.repeat(50_000) }, /longer than 2048/],
    ['NaN-like ts', { ts: 'NaN' }, /ts: must be a finite number/],
    ['float ts', { ts: 1.5 }, /ts: must be an integer/],
    ['negative viewport', { viewport: { w: -1, h: 2 } }, /viewport.w: must be between/],
    ['viewport extra key', { viewport: { w: 1, h: 2, dpr: 2 } }, /viewport: unknown key "dpr"/],
    ['click fields on a pageview', { click: { selector: 'a', x: 0, y: 0, page_x: 0, page_y: 0 } }, /pageview: unknown key "click"/],
    ['__proto__ key', JSON.parse('{"__proto__": {"polluted": true}}'), /unknown key "__proto__"/],
  ])('rejects a pageview with %s', (_name, patch, reason) => {
    const e = { ...EventBuilder.pageview().build(), ...(patch as object) };
    const v = validateBatch({ site: 'demo', events: [EventBuilder.pageview().build(), e] }, sites);
    expect(v.events).toHaveLength(1);
    expect(v.rejected[0]!.index).toBe(1);
    expect(v.rejected[0]!.reason).toMatch(reason);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['click without click', EventBuilder.click().with({ click: undefined }).build(), /click: required/],
    ['click x out of range', EventBuilder.click().with({ click: { selector: 'a', x: 2, y: 0, page_x: 0, page_y: 0 } }).build(), /click.x/],
    ['click Infinity', EventBuilder.click().with({ click: { selector: 'a', x: 0, y: 0, page_x: Infinity, page_y: 0 } }).build(), /click.page_x: must be a finite/],
    ['selector too long', EventBuilder.click().with({ click: { selector: 'a'.repeat(513), x: 0, y: 0, page_x: 0, page_y: 0 } }).build(), /longer than 512/],
    ['engagement depth 101', EventBuilder.engagement().with({ engagement: { visible_ms: 1, scroll_depth: 101 } }).build(), /scroll_depth/],
    ['custom bad name', EventBuilder.custom().with({ custom: { name: '1bad name' } }).build(), /custom.name/],
    ['custom nested prop', EventBuilder.custom().with({ custom: { name: 'x', props: { a: { b: 1 } as unknown as string } } }).build(), /custom.props.a: must be a string/],
    ['custom constructor key', EventBuilder.custom().with({ custom: { name: 'x', props: { constructor: 'x' } } }).build(), /key "constructor" is not allowed/],
    [
      'custom too many props',
      EventBuilder.custom().with({ custom: { name: 'x', props: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) } }).build(),
      /at most 20/,
    ],
  ])('rejects %s', (_name, e, reason) => {
    const v = validateBatch({ site: 'demo', events: [e] }, sites);
    expect(v.events).toHaveLength(0);
    expect(v.rejected[0]!.reason).toMatch(reason);
  });

  it('rejects strings that are not valid Unicode (lone surrogates)', () => {
    const e = EventBuilder.click().build();
    e.click!.selector = 'main>\ud800';
    const v = validateBatch({ site: 'demo', events: [e, EventBuilder.pageview().referrer('https://x.example/\udc00').build()] }, sites);
    expect(v.rejected).toEqual([
      { index: 0, reason: 'click.selector: not valid Unicode', field: 'click' },
      { index: 1, reason: 'referrer: not valid Unicode', field: 'referrer' },
    ]);
  });

  it('labels rejections for metrics by field, never by a value from the request', () => {
    const fields = (events: ReturnType<EventBuilder['build']>[]) => validateBatch({ site: 'demo', events }, sites).rejected.map((r) => r.field);
    const ok = EventBuilder.pageview().build();
    expect(
      fields([
        { ...ok, id: 'short' },
        { ...EventBuilder.click().build(), click: { selector: 'a', x: 2, y: 0, page_x: 0, page_y: 0 } },
        { ...EventBuilder.custom().build(), custom: { name: 'x', props: { 'jane@example.com': 1 } } },
        { ...ok, 'jane@example.com': 1 } as never,
        EventBuilder.pageview('https://evil.example/').build(),
        'jane@example.com' as never,
        ok,
      ]),
    ).toEqual(['id', 'click', 'custom', 'unknown_key', 'host', 'event']);
  });

  it('returns fresh objects holding only validated fields', () => {
    const e = EventBuilder.custom().build();
    const v = validateBatch({ site: 'demo', events: [e] }, sites);
    expect(v.events[0]).not.toBe(e);
    expect(Object.getPrototypeOf(v.events[0]!.custom!.props)).toBe(Object.prototype);
  });
});
