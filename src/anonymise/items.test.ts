/** Items and layout experiments (issue 13): shop constants kept as slugs, free text and personal data dropped. */
import { describe, expect, it } from 'vitest';
import { sanitiseItem, sanitiseVariants, slugOnly } from './items.js';

describe('sanitiseItem', () => {
  it('keeps product slugs, list names and positions', () => {
    expect(sanitiseItem({ id: 'usb-c-65w', list: 'home-grid', pos: 3 })).toEqual({ id: 'usb-c-65w', list: 'home-grid', pos: 3 });
    expect(sanitiseItem({ id: 'power-bank-20k' })).toEqual({ id: 'power-bank-20k', list: '', pos: 0 });
    expect(sanitiseItem({ id: 'sku_1042', list: 'related', pos: 10_000 })).toEqual({ id: 'sku_1042', list: 'related', pos: 10_000 });
  });

  it.each([
    ['a name with spaces', 'Zelda Quixote'],
    ['a name written as an id', 'Zelda_Quixote'],
    ['capitals (a name, an upper-case SKU)', 'SKU-1042'],
    ['an email address', 'jane.doe@example.com'],
    ['a phone number', '+49 30 1234567'],
    ['an order number (long digit run)', '88412345'],
    ['a card number', '4111111111111111'],
    ['a UUID', '0d5b5a6e-7b1f-4c38-9a51-1f2a3b4c5d6e'],
    ['a random token', 'k3J9x2aBq8ZmP0vL4tR7'],
    ['a sentence', 'this-is-a-very-long-gift-message-for-my-dear-friend'],
    ['non-slug punctuation', "o'brien"],
  ])('drops an item id that is %s', (_what, id) => {
    expect(sanitiseItem({ id, list: 'home-grid', pos: 1 })).toBeNull();
  });

  it('drops a list that is not a slug and a position out of range, keeping the item', () => {
    expect(sanitiseItem({ id: 'usb-c-hub', list: 'Jane Doe wishlist', pos: 0 })).toEqual({ id: 'usb-c-hub', list: '', pos: 0 });
    expect(sanitiseItem({ id: 'usb-c-hub', list: 'top', pos: 1.5 })).toEqual({ id: 'usb-c-hub', list: 'top', pos: 0 });
  });

  it('caps before scanning: an over-long value is not a slug', () => {
    expect(slugOnly('z'.repeat(65), 64)).toBe('');
    expect(slugOnly('z'.repeat(64), 64)).toBe('z'.repeat(64));
  });
});

describe('sanitiseVariants', () => {
  it('keeps experiment and arm slugs', () => {
    expect(sanitiseVariants({ 'grid-layout': 'b', hero: 'big_1' })).toEqual({ variants: { 'grid-layout': 'b', hero: 'big_1' }, dropped: 0 });
  });

  it('drops pairs whose experiment or arm is not a slug, and counts them', () => {
    expect(sanitiseVariants({ layout: 'Zelda Quixote', greeting: 'Dear_Zelda', '88412345': 'a', 'user.jane@example.com': 'b', Layout: 'B', ok: 'a' })).toEqual({ variants: { ok: 'a' }, dropped: 5 });
  });

  it('keeps at most five experiments', () => {
    const six = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((e) => [e, 'x']));
    expect(sanitiseVariants(six)).toEqual({ variants: { a: 'x', b: 'x', c: 'x', d: 'x', e: 'x' }, dropped: 1 });
  });
});
