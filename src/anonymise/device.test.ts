/** Device generalisation (docs/design.md §3.4): families and majors only; bots, crawlers and headless browsers dropped; a bounded cache. */
import { describe, expect, it } from 'vitest';
import { createDeviceParser, parseDevice } from './device.js';

const UA = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36',
  chromeWin: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  samsung: 'Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
  firefoxMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68',
};

describe('parseDevice', () => {
  it.each([
    ['chromeLinux', { browser: 'Chrome', browser_major: '131', os: 'Linux', os_major: '', device_type: 'desktop', device_vendor: '' }],
    ['chromeWin', { browser: 'Chrome', browser_major: '131', os: 'Windows', os_major: '10', device_type: 'desktop', device_vendor: '' }],
    ['iphone', { browser: 'Mobile Safari', browser_major: '17', os: 'iOS', os_major: '17', device_type: 'mobile', device_vendor: 'Apple' }],
    ['ipad', { browser: 'Mobile Safari', browser_major: '16', os: 'iOS', os_major: '16', device_type: 'tablet', device_vendor: 'Apple' }],
    ['samsung', { browser: 'Chrome', browser_major: '120', os: 'Android', os_major: '14', device_type: 'mobile', device_vendor: 'Samsung' }],
    ['firefoxMac', { browser: 'Firefox', browser_major: '132', os: 'Mac OS', os_major: '10', device_type: 'desktop', device_vendor: 'Apple' }],
    ['edge', { browser: 'Edge', browser_major: '130', os: 'Windows', os_major: '10', device_type: 'desktop', device_vendor: '' }],
  ] as const)('%s', (key, want) => {
    const out = parseDevice(UA[key]);
    expect(out).toEqual({ ok: true, value: want });
    // No model, no full version, no UA string.
    const text = JSON.stringify(out);
    for (const leak of ['SM-S918B', 'iPhone', '6778.86', '17.1.2', '0.6099', 'Build', 'Mozilla']) expect(text).not.toContain(leak);
  });

  it.each([
    ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
    ['bingbot', 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)'],
    ['crawler', 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)'],
    ['HeadlessChrome', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36'],
    ['PhantomJS', 'Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1'],
    ['Lighthouse', 'Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse'],
    ['curl', 'curl/8.5.0'],
    ['python', 'python-requests/2.31.0'],
    ['node', 'node'],
    ['empty', ''],
    ['blank', '   '],
  ])('%s is dropped as a bot', (_name, ua) => {
    expect(parseDevice(ua)).toEqual({ ok: false, reason: 'bot' });
  });

  it('keeps nothing a crafted UA puts where a family name or version would be', () => {
    const crafted = [
      'Mozilla/5.0 (Linux; Android 13; jane-doe-4111111111111111 Build/TP1A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
      'Links (2.1; Linux jane.doe@example.com)',
      'Opera/9.80 (J2ME/MIDP; Opera Mini/jane.doe@example.com/28.2555; U; ru) Presto/2.8.119 Version/11.10',
    ];
    for (const ua of crafted) {
      const text = JSON.stringify(parseDevice(ua));
      expect(text).not.toMatch(/jane|4111|example/);
    }
  });
});

describe('createDeviceParser', () => {
  it('answers a repeated UA from its cache, and stays bounded', () => {
    const parser = createDeviceParser({ cacheSize: 2 });
    const first = parser.parse(UA.chromeLinux);
    expect(parser.parse(UA.chromeLinux)).toBe(first); // the same object: a cache hit
    parser.parse(UA.iphone);
    parser.parse(UA.samsung); // evicts the least recently used (chromeLinux)
    const again = parser.parse(UA.chromeLinux);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('caches bots as dropped too', () => {
    const parser = createDeviceParser();
    expect(parser.parse('curl/8.5.0')).toEqual({ ok: false, reason: 'bot' });
    expect(parser.parse('curl/8.5.0')).toEqual({ ok: false, reason: 'bot' });
  });
});
