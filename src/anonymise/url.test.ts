/**
 * URL and referrer scrubbing (docs/design.md §3.5): table-driven vectors for
 * every rule, and a fuzz run of 50,000-character adversarial strings through
 * every scrubber of the anonymiser, which must stay fast (no ReDoS).
 */
import { describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { classifyDigits, decodeValue, luhn, scrubValue } from './pii.js';
import { scrubHost, scrubPath, scrubReferrer, scrubUrl } from './url.js';
import { sanitiseClick, sanitiseLabel, sanitiseSelector } from './click.js';
import { sanitiseCustom } from './custom.js';
import { parseStrictIp } from '../wire/ip.js';
import { parseDevice } from './device.js';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('scrubPath', () => {
  it.each([
    ['/checkout/jane.doe@example.com/confirm', '/checkout/:email/confirm'],
    ['/u/jane.doe%40example.com', '/u/:email'],
    ['/orders/123456789/items', '/orders/:num/items'],
    ['/pay/4111111111111111', '/pay/:card'],
    ['/call/+49%2030%201234567', '/call/:phone'],
    [`/reset/${JWT}`, '/reset/:token'],
    ['/o/c018252c-7fe2-4370-9c34-cfc757dfde15/view', '/o/:id/view'],
    ['/products/usb-c-65w', '/products/usb-c-65w'],
    ['/cart;jsessionid=0A1B2C3D', '/cart'],
    ['/cart%3Bjsessionid=0A1B2C3D/x', '/cart/x'],
    // a decoded '/' is not in the slug alphabet
    ['/a%2Fb', '/:id'],
    ['/', '/'],
    ['', '/'],
  ])('%j → %j', (raw, want) => {
    expect(scrubPath(raw)).toBe(want);
  });
});

describe('scrubUrl', () => {
  const opts = { allowlist: ['variant', 'ref'] };

  it('drops fragment, userinfo and every query parameter but utm_* and the allowlist; lowercases the host', () => {
    const u = scrubUrl('https://jane:secret@Shop.EXAMPLE:8443/products/usb-c-65w?utm_source=mail&utm_medium=email&utm_campaign=bf&utm_term=charger&utm_content=top&variant=black&email=jane@x.com&q=jane#section-2', opts)!;
    expect(u).toEqual({
      host: 'shop.example',
      hostPort: 'shop.example:8443',
      path: '/products/usb-c-65w',
      query: 'variant=black',
      // utm_term and utm_content are off by default (UTM_PARAMS)
      utm: { source: 'mail', medium: 'email', campaign: 'bf', term: '', content: '' },
    });
    expect(JSON.stringify(u)).not.toMatch(/jane|secret|section/);
  });

  it('keeps utm_term and utm_content only when configured, as slugs', () => {
    const all = { ...opts, utm: ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] };
    const u = scrubUrl('https://shop.example/?utm_term=USB+C%20charger&utm_content=Banner_Top&utm_campaign=Zelda%20Quixote', all)!;
    expect(u.utm).toEqual({ source: '', medium: '', campaign: ':id', term: 'usb-c-charger', content: 'banner_top' });
  });

  it('scrubs kept values as well: placeholders for personal data, :id for free text, slugs lowercased', () => {
    const all = { ...opts, utm: ['utm_source', 'utm_term'] };
    const u = scrubUrl('https://shop.example/?utm_source=jane%40example.com&utm_term=%2B49%2030%201234567&ref=4111111111111111&variant=dc9bb49d64afda5fb18b7084f91d51de', all)!;
    expect(u.utm.source).toBe(':email');
    expect(u.utm.term).toBe(':phone');
    expect(u.query).toBe('ref=:card&variant=:token');
    expect(scrubUrl('https://shop.example/?variant=Midnight-Black&ref=Zelda%20Quixote', opts)!.query).toBe('ref=:id&variant=midnight-black');
  });

  it('applies route templates and the slug rules to paths', () => {
    const routes = ['/wishlist/:id', '/account/*', '/products/:slug/reviews'];
    const path = (p: string) => scrubUrl(`https://shop.example${p}`, { ...opts, routes })!.path;
    expect(path('/wishlist/zelda-quixote')).toBe('/wishlist/:id');
    expect(path('/account/orders/88412/invoice')).toBe('/account/*');
    expect(path('/products/usb-c-65w/reviews')).toBe('/products/:slug/reviews');
    // No template matches: the segment rules.
    expect(path('/products/usb-c-65w')).toBe('/products/usb-c-65w');
    expect(path('/gifts/for/Zelda%20Quixote')).toBe('/gifts/for/:id');
    expect(path('/customer/zelda-quixote/addresses')).toBe('/customer/:id/addresses');
  });

  it('refuses what is not http(s)', () => {
    for (const raw of ['javascript:alert(1)', 'ftp://x.example/', 'mailto:jane@example.com', 'not a url', '']) expect(scrubUrl(raw, opts)).toBeNull();
  });
});

describe('scrubReferrer', () => {
  const hosts = ['shop.example', 'localhost:8080'];
  it.each([
    ['https://shop.example/checkout/jane.doe@example.com?q=1#x', { host: '', path: '/checkout/:email' }],
    ['http://localhost:8080/cart', { host: '', path: '/cart' }],
    // External: the registrable domain only (Public Suffix List, ICANN section).
    ['https://www.google.com/search?q=jane+doe', { host: 'google.com', path: '' }],
    ['https://www.google.co.uk/', { host: 'google.co.uk', path: '' }],
    ['https://mail.example.org/inbox/jane.doe@example.com', { host: 'example.org', path: '' }],
    ['https://zelda-quixote.example.net/', { host: 'example.net', path: '' }],
    ['https://zelda-quixote.github.io/wishlist', { host: 'github.io', path: '' }],
    ['https://4111111111111111.cdn.example/', { host: 'cdn.example', path: '' }],
    ['https://4111111111111111.com/', { host: ':card.com', path: '' }],
    ['http://intranet/', { host: ':host', path: '' }],
    ['http://198.51.100.213/', { host: ':ip', path: '' }],
    ['http://0xc6.51.100.213/', { host: ':ip', path: '' }],
    ['http://[2001:db8::1]/', { host: ':ip', path: '' }],
    ['android-app://com.example', { host: '', path: '' }],
    // what the tracker sends: an internal referrer as its path, an external one as its origin
    ['/checkout/jane.doe@example.com?q=1#x', { host: '', path: '/checkout/:email' }],
    ['https://www.example.org/', { host: 'example.org', path: '' }],
    ['//evil.example/x', { host: '', path: '' }],
    [undefined, { host: '', path: '' }],
  ])('%j', (raw, want) => {
    expect(scrubReferrer(raw, hosts)).toEqual(want);
  });

  it('scrubHost keeps the registrable domain', () => {
    expect(scrubHost('www.bing.com')).toBe('bing.com');
    expect(scrubHost('l.facebook.com')).toBe('facebook.com');
  });

  it('internal referrers go through the site route templates', () => {
    expect(scrubReferrer('https://shop.example/wishlist/zelda-quixote', hosts, ['/wishlist/:id'])).toEqual({ host: '', path: '/wishlist/:id' });
  });
});

describe('fuzz: 50,000-character adversarial strings through every scrubber stay fast', () => {
  const N = 50_000;
  const fill = (unit: string) => unit.repeat(Math.ceil(N / unit.length)).slice(0, N);
  const inputs: Record<string, string> = {
    'a@': fill('a@'),
    '@.': fill('@.'),
    'a.': fill('a.'),
    'long word + !': fill('a').slice(0, N - 1) + '!',
    digits: fill('0'),
    'digit groups': fill('4111 '),
    'plus digits': fill('+1 '),
    '%': fill('%'),
    '%25': fill('%25'),
    '%40': fill('%40'),
    'hex + z': fill('abcdef0123456789').slice(0, N - 1) + 'z',
    base64: randomBytes(N).toString('base64url').slice(0, N),
    'uuid-ish': fill('c018252c-7fe2-'),
    'jwt-ish': fill('eyJabcdefgh.'),
    slashes: fill('/a'),
    semicolons: fill(';a'),
    brackets: fill('[('),
    quotes: fill('"\''),
    selector: fill('div#a.b>'),
    spaces: fill(' '),
    unicode: fill('ü€𝄞'),
    hyphens: fill('-'),
    colons: fill(':'),
  };
  const url = (s: string) => `https://shop.example/${s}?utm_source=${s}&ref=${s}#${s}`;
  const scrubbers: Record<string, (s: string) => unknown> = {
    scrubValue: (s) => scrubValue(s),
    classifyDigits: (s) => classifyDigits(s),
    decodeValue: (s) => decodeValue(s),
    scrubPath: (s) => scrubPath(`/${s}`),
    scrubUrl: (s) => scrubUrl(url(s), { allowlist: ['ref'] }),
    scrubReferrer: (s) => scrubReferrer(url(s), ['other.example']),
    scrubHost: (s) => scrubHost(s),
    sanitiseSelector: (s) => sanitiseSelector(s),
    sanitiseLabel: (s) => sanitiseLabel(s),
    sanitiseClick: (s) => sanitiseClick({ selector: s, label: s, x: 0.5, y: 0.5, page_x: 1, page_y: 1 }),
    sanitiseCustom: (s) => sanitiseCustom({ name: s, props: { [s.slice(0, 64)]: s, note: s } }),
    parseStrictIp: (s) => parseStrictIp(s),
    parseDevice: (s) => parseDevice(s),
  };
  const timings: Record<string, string> = {};

  it.each(Object.keys(scrubbers))('%s', (name) => {
    const fn = scrubbers[name]!;
    let worst = 0;
    let worstInput = '';
    const start = performance.now();
    for (const [label, s] of Object.entries(inputs)) {
      expect(s.length).toBeGreaterThanOrEqual(N - 1);
      const t = performance.now();
      fn(s);
      const ms = performance.now() - t;
      if (ms > worst) [worst, worstInput] = [ms, label];
    }
    const total = performance.now() - start;
    timings[name] = `${total.toFixed(1)} ms for ${Object.keys(inputs).length} inputs, worst ${worst.toFixed(2)} ms (${worstInput})`;
    // Not a speed measurement (that is the benchmark's job): a guard against catastrophic backtracking. A quadratic
    // or exponential regex on 50,000 characters takes many seconds; linear, capped scrubbers take about a
    // millisecond. The bound is far above that because CI machines are shared and may be heavily loaded.
    expect(worst).toBeLessThan(1000);
  });

  it('records the timings', () => {
    expect(Object.keys(timings)).toHaveLength(Object.keys(scrubbers).length);
    console.log(`fuzz, ${N}-character inputs:\n${Object.entries(timings).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  });

  it('random printable strings never throw and never come back longer than their caps', () => {
    for (let i = 0; i < 300; i++) {
      const s = randomBytes(200 + (i % 50)).toString('latin1');
      expect(scrubValue(s).length).toBeLessThanOrEqual(256);
      expect(sanitiseSelector(s).length).toBeLessThanOrEqual(256);
      expect(() => scrubPath(s)).not.toThrow();
      expect(() => scrubUrl(`https://x.example/${s}`, { allowlist: [] })).not.toThrow();
      expect(() => scrubReferrer(`https://y.example/${s}`, ['x.example'])).not.toThrow();
    }
    expect(scrubValue(randomUUID())).toBe(':id');
  });
});
