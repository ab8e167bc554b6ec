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

describe('selectors that identify without identifying', () => {
  it.each([
    // sibling positions tell the tiles of a grid apart; other pseudo-classes and their arguments still go
    ['main>div.grid>div.tile:nth-of-type(3)>a', 'main>div.grid>div.tile:nth-of-type(3)>a'],
    ['li:nth-of-type(12)>a:hover', 'li:nth-of-type(12)>a'],
    ['li:nth-of-type(x)>a', 'li>a'],
    ['li:nth-of-type(12345)>a', 'li>a'],
    ['li:nth-of-type(0)>a', 'li>a'],
    ['li:nth-child(3)>a', 'li>a'],
    ['li:not(:nth-of-type(3))>a', 'li>a'],
    // form controls by name, under the label rule (a design token or a name the site allows)
    ['form.checkout>input[name=email]', 'form.checkout>input[name=email]'],
    ['form>input[name=billing_first_name]', 'form>input[name=billing_first_name]'],
    ['form>input[name=zelda_quixote]', 'form>input'],
    ['form>input[name=jane@example.com]', 'form>input'],
    ['form>input[name="email"]', 'form>input'],
    ['form>input[name=qty-88412]', 'form>input'],
    ['form>input[type=email]', 'form>input'],
    ['form>input[name=email]:nth-of-type(2)', 'form>input[name=email]:nth-of-type(2)'],
    // the icon inside a control
    ['ul.featured__item__pic__hover>li:nth-of-type(3)>a>i.fa.fa-shopping-cart', 'ul.featured__item__pic__hover>li:nth-of-type(3)>a>i.fa.fa-shopping-cart'],
    ['a>i.fa.fa-heart', 'a>i.fa.fa-heart'],
    // state classes go: one element, one selector, whatever a script toggled
    ['div.owl-item.active>a', 'div.owl-item>a'],
    ['div.owl-carousel.owl-loaded.owl-theme>div', 'div.owl-carousel.owl-theme>div'],
    ['div.product__item__pic__hover>a', 'div.product__item__pic__hover>a'],
    ['div.collapse.show>a', 'div.collapse>a'],
    ['div.collapse.in>a', 'div.collapse>a'],
    ['li.nav-item.is-active>a.nav-link.current', 'li.nav-item>a.nav-link'],
    ['div.swiper-slide.swiper-slide-active', 'div.swiper-slide'],
    ['div.menu.menu-open>a', 'div.menu>a'],
    ['div.dropdown-menu.visually-hidden', 'div.dropdown-menu'],
    ['input.form-control.ng-valid.ng-touched', 'input.form-control'],
    ['button.show-more', 'button.show-more'],
    ['a.sign-in', 'a.sign-in'],
    // generated ids, short random suffixes and numbered ids included
    ['div#MixItUpEBD3A9.product-card>a', 'div.product-card>a'],
    ['div#MixItUp3F0C1D>a', 'div>a'],
    ['div#tab-x7y>a', 'div>a'],
    ['div#ui-id-17>a', 'div>a'],
    ['input#mat-input-3.form-control', 'input.form-control'],
    ['div#slide-12', 'div'],
    ['div.panel-a1b2>a', 'div>a'],
    ['div.col-12.text-2xl.w-100', 'div.col-12.text-2xl.w-100'],
  ])('%j → %j', (raw, want) => {
    expect(sanitiseSelector(raw)).toBe(want);
  });

  it('keeps a form control name the site allows as a label', () => {
    expect(sanitiseSelector('form>input[name=gift_wrap_xmas]')).toBe('form>input');
    expect(sanitiseSelector('form>input[name=gift_wrap_xmas]', [], ['gift_wrap_xmas'])).toBe('form>input[name=gift_wrap_xmas]');
    // Allowed ids and classes are kept whatever they look like (the site named them).
    expect(sanitiseSelector('div#slide-12.active', ['slide-12', 'active'])).toBe('div#slide-12.active');
  });

  it('tells apart the eight tiles of a grid and the icons of a tile, as the tracker writes them', () => {
    const tile = (n: number, icon: string) =>
      `div.container>div.row.featured__filter>div.col-lg-3.col-md-4.col-sm-6.mix.oranges:nth-of-type(${n})>div.featured__item>div.featured__item__pic>ul.featured__item__pic__hover>li:nth-of-type(${icon === 'heart' ? 1 : icon === 'retweet' ? 2 : 3})>a>i.fa.fa-${icon}`;
    const stored = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => ['heart', 'retweet', 'shopping-cart'].map((i) => sanitiseSelector(tile(n, i))));
    expect(new Set(stored).size).toBe(24);
    expect(stored[2]).toMatch(/li:nth-of-type\(3\)>a>i\.fa\.fa-shopping-cart$/);
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
      block_x: 0,
      block_y: 0,
      rage: 0,
      dead: 0,
    });
  });

  it('measures page x from the centre line of the document, placed on a document of the bucket width', () => {
    // One button 100 px right of a centred container's middle, at three window widths of one bucket (1440–1535)
    // and at the other desktop buckets: the stored offset from the bucket's centre line is the same.
    const at = (docW: number, bucketWidth: number) => sanitiseClick({ selector: 'a', x: 0.5, y: 0.5, page_x: docW / 2 + 100, page_y: 10, doc_w: docW }, {}, { bucketWidth }).page_x - bucketWidth / 2;
    expect([at(1440, 1440), at(1500, 1440), at(1535, 1440), at(1280, 1280), at(1920, 1920)]).toEqual([100, 100, 100, 100, 100]);
    // Without a document width (an older tracker) the window width stands in; without a bucket, page x is kept.
    expect(sanitiseClick({ selector: 'a', x: 0, y: 0, page_x: 850, page_y: 0 }, {}, { bucketWidth: 1440, viewportWidth: 1500 }).page_x).toBe(820);
    expect(sanitiseClick({ selector: 'a', x: 0, y: 0, page_x: 855, page_y: 0, doc_w: 1500 }).page_x).toBe(850);
    // Far left of a wider document: clamped at 0, never negative.
    expect(sanitiseClick({ selector: 'a', x: 0, y: 0, page_x: 5, page_y: 0, doc_w: 1535 }, {}, { bucketWidth: 1440 }).page_x).toBe(0);
  });

  it('rounds the position in the tile to 0.01, and has none outside a tile', () => {
    const c = { selector: 'main>section.grid>article.tile:nth-of-type(3)>button.add', x: 0.5, y: 0.5, page_x: 0, page_y: 0 };
    expect(sanitiseClick({ ...c, block_x: 0.123, block_y: 0.987 })).toMatchObject({ block_x: 0.12, block_y: 0.99 });
    expect(sanitiseClick(c)).toMatchObject({ block_x: 0, block_y: 0 });
  });

  it('keeps the frustration the browser judged as 0/1', () => {
    expect(sanitiseClick({ selector: 'div', x: 0, y: 0, page_x: 0, page_y: 0, rage: true, dead: true })).toMatchObject({ rage: 1, dead: 1 });
    expect(sanitiseClick({ selector: 'div', x: 0, y: 0, page_x: 0, page_y: 0, rage: false })).toMatchObject({ rage: 0, dead: 0 });
  });

  it('clamps out-of-range and non-finite numbers', () => {
    const c = sanitiseClick({ selector: 'a', x: 7, y: Number.NaN, page_x: -5, page_y: Number.POSITIVE_INFINITY });
    expect(c).toMatchObject({ x: 1, y: 0, page_x: 0, page_y: 0 });
  });
});
