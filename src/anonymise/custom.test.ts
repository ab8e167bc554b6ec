/** Custom events (issue item 6): safe names, bounded props, identifier keys dropped, values scrubbed. */
import { describe, expect, it } from 'vitest';
import { MAX_PROPS } from '../wire/limits.js';
import { identifyingKey, sanitiseCustom } from './custom.js';

describe('identifyingKey', () => {
  // Keys that identify a person or their transaction.
  it.each([
    'userId', 'user_id', 'user-id', 'USER_ID', 'uid', 'user', 'username', 'email', 'e_mail', 'contactEmail', 'customer.email',
    'emailAddress', 'phone', 'phoneNumber', 'mobile', 'order_id', 'orderId', 'orderNumber', 'order_no', 'ORDER_NO', 'order',
    'session', 'sessionId', 'session_id', 'sid', 'token', 'authToken', 'customerId', 'customer', 'name', 'firstName', 'last_name',
    'address', 'zip', 'postcode', 'ip', 'ipAddress', 'iban', 'cardNumber', 'dob', 'birthday', 'password', 'deviceId', 'clientId',
    'transactionId', 'uuid', 'id', 'ref', 'visitor_id', 'visitorId', 'member_id', 'memberNo', 'account', 'account_id', 'invoice_no',
    'invoiceNumber', 'payment_id', 'paymentRef', 'card', 'card_hash', 'gift_card_code', 'customer_name', 'customerName',
    'billing_first_name', 'display_name', 'shipping_address', 'email_hash', 'customer_ref', 'client_code', 'guest_id', 'lead_no',
    'user_product_id', 'order_item_id', 'token_id', 'transaction', 'visitor', 'member', 'client', 'profile_id',
  ])('%s is an identifier', (k) => {
    expect(identifyingKey(k)).toBe(true);
  });

  // Ordinary props, and the ids of the things on a shop's pages, which name no one.
  it.each([
    'items', 'step', 'category', 'product_name', 'price', 'currency', 'variant', 'color', 'order_total', 'shipping_method', 'payment_type',
    'idle', 'video', 'product_id', 'productId', 'PRODUCT_ID', 'product.id', 'sku', 'sku_id', 'skuId', 'item_id', 'itemId', 'category_id',
    'categoryId', 'variant_id', 'product_uuid', 'product_sku', 'brand_name', 'collection_id', 'list_position', 'page_number',
    'session_duration', 'product_card', 'card_type', 'order_value', 'currency_code',
  ])('%s is not', (k) => {
    expect(identifyingKey(k)).toBe(false);
  });
});

describe('sanitiseCustom', () => {
  it('keeps a safe name and ordinary props, drops identifier keys, scrubs values', () => {
    const out = sanitiseCustom({
      name: 'Checkout_Start',
      props: { items: 2, paid: true, category: 'chargers', note: 'jane.doe@example.com', userId: 'u-1', email: 'jane@example.com', orderId: 'A-77', coupon: '+49 30 1234567' },
    });
    // Values that are personal data or free text are dropped (and counted), not kept as placeholders.
    expect(out).toEqual({ name: 'checkout_start', props: { items: '2', paid: 'true', category: 'chargers' }, dropped: { prop_free_text: 2 } });
  });

  it('drops free text whatever the key: names, addresses, messages', () => {
    const out = sanitiseCustom({
      name: 'gift_wrap',
      props: { to: 'Zelda Quixote', gift_message: 'Happy birthday! 12 Canary Lane', recipient: 'zelda', colour: 'Red', wrap: 'gold-foil', size: 3 },
    })!;
    expect(out.props).toEqual({ colour: 'red', wrap: 'gold-foil', size: '3' });
    expect(out.dropped).toEqual({ prop_free_text: 2 });
  });

  it('applies per-key value rules: numbers, booleans, slugs, enums', () => {
    const rules = { items: 'number', gift: 'boolean', list: 'slug', position: ['top', 'middle', 'bottom'] } as const;
    const ok = sanitiseCustom({ name: 'x', props: { items: 3, gift: false, list: 'Homepage-Hero', position: 'top' } }, rules)!;
    expect(ok.props).toEqual({ items: '3', gift: 'false', list: 'homepage-hero', position: 'top' });
    const bad = sanitiseCustom({ name: 'x', props: { items: '3', gift: 'yes', list: 7, position: 'Zelda Quixote' } }, rules)!;
    expect(bad.props).toEqual({});
    expect(bad.dropped).toEqual({ prop_rule: 4 });
  });

  it('keeps product, sku, item and category ids for layout analysis, drops the ids of people and orders', () => {
    const out = sanitiseCustom({
      name: 'add_to_cart',
      props: { product_id: 'usb-c-65w', sku: 'PB-20000', item_id: '42', categoryId: 'chargers', user_id: 'u-1', session_id: 's-1', order_id: 'A-77', customer_email: 'x', visitorId: 'v' },
    });
    expect(out).toEqual({ name: 'add_to_cart', props: { product_id: 'usb-c-65w', sku: 'pb-20000', item_id: '42', categoryId: 'chargers' }, dropped: {} });
  });

  it('drops keys that are not plain names or carry data themselves', () => {
    const out = sanitiseCustom({ name: 'x', props: { 'jane.doe@example.com': 'a', '4111111111111111': 'b', 'k3j9x2abcdq8z7m1n0p4': 'c', ok: 'd' } })!;
    expect(out.props).toEqual({ ok: 'd' });
  });

  it('refuses names that are not developer constants', () => {
    for (const name of ['order:4111111111111111', 'signup-123456', 'x@y', '9lives', 'has space', 'a'.repeat(65)]) expect(sanitiseCustom({ name }), name).toBeNull();
    expect(sanitiseCustom({ name: 'checkout.step:2' })).toEqual({ name: 'checkout.step:2', props: {}, dropped: {} });
  });

  it('limits props in count and length', () => {
    const props: Record<string, string> = {};
    for (let i = 0; i < 30; i++) props[`p${String.fromCharCode(97 + i)}`] = 'v'.repeat(60);
    const out = sanitiseCustom({ name: 'many', props })!;
    expect(Object.keys(out.props)).toHaveLength(MAX_PROPS);
    for (const v of Object.values(out.props)) expect(v.length).toBeLessThanOrEqual(64);
    // A longer value is free text, not a slug.
    expect(sanitiseCustom({ name: 'long', props: { p: 'v'.repeat(65) } })!.dropped).toEqual({ prop_free_text: 1 });
  });
});
