/** Paths without free text (docs/design.md §3.5): route templates first, then the segment rules. */
import { describe, expect, it } from 'vitest';
import { parseTemplate, ROUTE_TEMPLATE, scrubPath } from './routes.js';

describe('route templates', () => {
  const routes = ['/wishlist/:id', '/account/*', '/products/:slug', '/orders/:order/items/:item', '/'];

  it.each([
    ['/wishlist/zelda-quixote', '/wishlist/:id'],
    ['/wishlist/zelda-quixote/', '/wishlist/:id'],
    ['/account', '/account/*'],
    ['/account/addresses/12%20Canary%20Lane', '/account/*'],
    ['/products/usb-c-65w', '/products/:slug'],
    ['/orders/ORD-88412/items/3', '/orders/:order/items/:item'],
    ['/', '/'],
    // no template matches the whole path: segment rules
    ['/wishlist', '/wishlist'],
    ['/products/usb-c-65w/reviews', '/products/usb-c-65w/reviews'],
  ])('%j → %j', (raw, want) => {
    expect(scrubPath(raw, routes)).toBe(want);
  });

  it('are refused by the configuration when malformed', () => {
    for (const ok of ['/', '/a/:b/*', '/Products/:slug', '/a.html']) expect(ROUTE_TEMPLATE.test(ok), ok).toBe(true);
    for (const bad of ['a/b', '/a b', '/:B', '/a/**', '/a?x=1', '/a#b']) expect(ROUTE_TEMPLATE.test(bad), bad).toBe(false);
    expect(() => parseTemplate('/a/*/b')).toThrow(/only end/);
  });
});

describe('segment rules without a template', () => {
  it.each([
    // product and category slugs stay readable
    ['/products/usb-c-65w', '/products/usb-c-65w'],
    ['/c/chargers/usb-c', '/c/chargers/usb-c'],
    ['/demo/product.html', '/demo/product.html'],
    ['/ladegeräte/schnell', '/ladeger%C3%A4te/schnell'],
    // free text: capitals, spaces, apostrophes, '+', caseless scripts, too long, too many words
    ['/gift/Zelda%20Quixote', '/gift/:id'],
    ['/gift/Zelda-Quixote', '/gift/:id'],
    ['/note/siobh%C3%A1n%27s+card', '/note/:id'],
    ['/to/%E6%9D%8E%E5%B0%8F%E9%BE%99', '/to/:id'],
    [`/x/${'abcde-'.repeat(11)}x`, '/x/:id'],
    ['/m/happy-birthday-to-you-my-dear-old-friend-gwen', '/m/:id'],
    // a segment after one naming a person or their records says whose page it is
    ['/wishlist/zelda-quixote', '/wishlist/:id'],
    ['/customer/zelda/orders/88412', '/customer/:id/orders/:id'],
    ['/u/gwendolyn-pettibone/settings', '/u/:id/settings'],
    // the detector's placeholders win
    ['/orders/123456789/items', '/orders/:num/items'],
    ['/u/jane.doe%40example.com', '/u/:email'],
    // a value that only starts with ':' is not a placeholder
    ['/p/:zelda', '/p/:id'],
  ])('%j → %j', (raw, want) => {
    expect(scrubPath(raw)).toBe(want);
  });

  it('stays linear on deep and long paths', () => {
    const t0 = performance.now();
    scrubPath('/a'.repeat(20_000), ['/a/:b', '/a/*']);
    scrubPath(`/${'x-'.repeat(20_000)}`);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
