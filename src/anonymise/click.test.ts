/** Clicks (docs/design.md §3.6): selector paths without personal data, labels, rounded and bucketed coordinates. */
import { describe, expect, it } from 'vitest';
import { generatedName, sanitiseClick, sanitiseLabel, sanitiseSelector } from './click.js';

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
    // build hashes are not design tokens: they go unless the site allows them (below)
    ['div.css-1x2y3z.sc-AxjAm>i', 'div>i'],
    // names a template put a person into
    ['div#user-zelda-quixote>a.link', 'div>a.link'],
    ['li.wishlist-item.owner-gwendolyn>span', 'li.wishlist-item>span'],
    // every combinator becomes '>'
    ['form#checkout div.row  button.btn.btn-primary', 'form#checkout>div.row>button.btn.btn-primary'],
    ['ul>li+li~li', 'ul>li>li>li'],
  ])('%j → %j', (raw, want) => {
    expect(sanitiseSelector(raw)).toBe(want);
  });

  it('caps depth and length, keeping the innermost steps', () => {
    const deep = Array.from({ length: 30 }, (_, i) => `div.level-${String.fromCharCode(97 + (i % 26))}`).join('>');
    const out = sanitiseSelector(deep);
    expect(out.split('>')).toHaveLength(12);
    expect(out.endsWith('div.level-d')).toBe(true);
    const long = Array.from({ length: 12 }, () => `section.${'x'.repeat(30)}`).join('>');
    expect(sanitiseSelector(long).length).toBeLessThanOrEqual(256);
  });
});

describe('site allowlist', () => {
  it('keeps ids and classes the site names, and only those', () => {
    expect(sanitiseSelector('div.css-1x2y3z.sc-AxjAm>i#hero-xmas', ['css-1x2y3z', 'hero-xmas'])).toBe('div.css-1x2y3z>i#hero-xmas');
    // An allowed name that carries personal data still goes.
    expect(sanitiseSelector('div#jane.doe@example.com', ['jane.doe@example.com'])).toBe('div');
    expect(sanitiseLabel('hero-xmas')).toBe('');
    expect(sanitiseLabel('hero-xmas', ['hero-xmas'])).toBe('hero-xmas');
  });
});

describe('generatedName', () => {
  // Short generated ids name one user or record as surely as long ones.
  it.each([
    'user-8f3a9c2e1b', 'u_9f8e7d6c5b4a', '8f3a9c2e', 'item-DEADBEEF1', 'row-8f3a-9c2e-1b', 'a1b2c3d4e5f6', 'c018252c-7fe2-4370-9c34-cfc757dfde15',
    'user-4711', 'order4711', 'row-12-34-56', 'u_k3j9x2abq8', 'cart-x7y8z9w0q1',
  ])('%s is generated', (name) => {
    expect(generatedName(name)).toBe(true);
  });

  it.each([
    'btn-primary', 'btn', 'col-12', 'col-md-6', 'grid-cols-3', 'product-card', 'add-to-cart', 'facade', 'deadbeefcafe', 'h-100', 'mb-3',
    'css-1x2y3z', 'sc-AxjAm', 'level2heading1', 'ad-300x250', 'w-1-2', 'bead-2', 'fade-in-up',
  ])('%s is not', (name) => {
    expect(generatedName(name)).toBe(false);
  });
});

describe('sanitiseSelector drops generated ids and classes, keeps ordinary ones', () => {
  it.each([
    ['#user-8f3a9c2e1b', ''],
    ['div#user-8f3a9c2e1b>a.link', 'div>a.link'],
    ['div#u_9f8e7d6c5b4a', 'div'],
    ['li.item.row-8f3a-9c2e-1b>span', 'li.item>span'],
    ['section#cart-x7y8z9w0q1.cart>button.checkout', 'section.cart>button.checkout'],
    ['div.row>div.col-12>div.product-card>button.btn.btn-primary', 'div.row>div.col-12>div.product-card>button.btn.btn-primary'],
    ['ul.grid.grid-cols-3>li.product-card', 'ul.grid.grid-cols-3>li.product-card'],
    ['div#main.col-md-6.mb-3', 'div#main.col-md-6.mb-3'],
  ])('%j → %j', (raw, want) => {
    expect(sanitiseSelector(raw)).toBe(want);
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
    ['zelda-quixote', ''],
    ['nav-home', 'nav-home'],
    ['place-order', 'place-order'],
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
