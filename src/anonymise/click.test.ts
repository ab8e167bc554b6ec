/** Clicks (DESIGN §3 item 6): selector paths without personal data, labels, rounded and bucketed coordinates. */
import { describe, expect, it } from 'vitest';
import { sanitiseClick, sanitiseLabel, sanitiseSelector } from './click.js';

describe('sanitiseSelector', () => {
  it.each([
    ['main>section.buy>button.add', 'main>section.buy>button.add'],
    ['MAIN > Section.buy > BUTTON.add', 'main>section.buy>button.add'],
    // no attribute values, no text, no pseudo-class arguments
    ['input[value="jane.doe@example.com"].field', 'input.field'],
    ['a[href="/u/jane"]#nav.link', 'a#nav.link'],
    ['li:nth-child(3)>a.link', 'li>a.link'],
    ['p:contains("Jane Doe").note', 'p.note'],
    // ids and classes that carry personal data or tokens are left out, the tag stays
    ['div#jane.doe@example.com>a', 'div>a'],
    ['div#jane\\.doe\\@example\\.com>a', 'div>a'],
    ['div#user-4711>span.x', 'div>span.x'],
    ['div#a1b2c3d4e5f6>p', 'div>p'],
    ['div.c018252c-7fe2-4370-9c34-cfc757dfde15>p', 'div>p'],
    ['section#order-4111111111111111>b', 'section>b'],
    ['div.css-1x2y3z.sc-AxjAm>i', 'div.css-1x2y3z.sc-AxjAm>i'],
    // every combinator becomes '>'
    ['form#checkout div.row  button.btn.btn-primary', 'form#checkout>div.row>button.btn.btn-primary'],
    ['ul>li+li~li', 'ul>li>li>li'],
  ])('%j → %j', (raw, want) => {
    expect(sanitiseSelector(raw)).toBe(want);
  });

  it('caps depth and length, keeping the innermost steps', () => {
    const deep = Array.from({ length: 30 }, (_, i) => `div.level${String.fromCharCode(97 + (i % 26))}`).join('>');
    const out = sanitiseSelector(deep);
    expect(out.split('>')).toHaveLength(12);
    expect(out.endsWith('div.leveld')).toBe(true);
    const long = Array.from({ length: 12 }, () => `section.${'x'.repeat(30)}`).join('>');
    expect(sanitiseSelector(long).length).toBeLessThanOrEqual(256);
  });
});

describe('sanitiseLabel', () => {
  it.each([
    ['add-to-cart', 'add-to-cart'],
    ['Add_To_Cart', 'add_to_cart'],
    ['jane.doe@example.com', ''],
    ['4111111111111111', ''],
    ['order-123456', ''],
    ['with space', ''],
    [undefined, ''],
  ])('%j → %j', (raw, want) => {
    expect(sanitiseLabel(raw)).toBe(want);
  });
});

describe('sanitiseClick', () => {
  it('rounds element fractions to 0.01 and buckets page positions to 10 px', () => {
    expect(sanitiseClick({ selector: 'button.add', label: 'add', x: 0.4251, y: 0.6149, page_x: 812.7, page_y: 1209 })).toEqual({
      selector: 'button.add',
      label: 'add',
      x: 0.43,
      y: 0.61,
      page_x: 810,
      page_y: 1200,
    });
  });

  it('clamps out-of-range and non-finite numbers', () => {
    const c = sanitiseClick({ selector: 'a', x: 7, y: Number.NaN, page_x: -5, page_y: Number.POSITIVE_INFINITY });
    expect(c).toMatchObject({ x: 1, y: 0, page_x: 0, page_y: 0 });
  });
});
