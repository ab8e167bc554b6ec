/**
 * Device generalisation with ua-parser-js 1.0.x (2.x is AGPL: never upgrade).
 * Kept: browser family + major version, OS family + major version, device
 * type and vendor. Never the model, the full version or the UA string.
 * Bots, crawlers and headless browsers are dropped (isbot, maintained, plus
 * automation markers it does not list). A bounded LRU keyed by the UA makes
 * repeated user agents nearly free.
 */
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';
import UAParser from 'ua-parser-js';
import { drop, ok, type Outcome } from './types.js';
import { scrubValue } from './pii.js';

export interface Device {
  browser: string;
  browser_major: string;
  os: string;
  os_major: string;
  device_type: string;
  device_vendor: string;
}

export interface DeviceParser {
  parse(ua: string): Outcome<Device>;
}

const MAX_UA = 512;
const AUTOMATION = /headless|phantomjs|electron\/|puppeteer|playwright|selenium|webdriver|lighthouse|slimerjs|cypress/i;
const MAJOR = /^\d{1,5}/;

function major(version: string | undefined): string {
  return version ? (MAJOR.exec(version)?.[0] ?? '') : '';
}

const FAMILY = /^[A-Za-z0-9][A-Za-z0-9 ._!+-]{0,31}$/;

/**
 * A family or vendor name as ua-parser-js found it. A few of its patterns
 * capture a word from the UA itself, so anything that is not a plain short
 * name, or that looks like personal data or a token, is left out.
 */
function family(s: string | undefined): string {
  if (!s || !FAMILY.test(s)) return '';
  return scrubValue(s, 32) === s ? s : '';
}

export function parseDevice(uaRaw: string): Outcome<Device> {
  const ua = uaRaw.slice(0, MAX_UA);
  if (ua.trim() === '' || isbot(ua) || AUTOMATION.test(ua)) return drop('bot');
  const r = new UAParser(ua).getResult();
  return ok({
    browser: family(r.browser.name),
    browser_major: major(r.browser.version),
    os: family(r.os.name),
    os_major: major(r.os.version),
    device_type: family(r.device.type) || 'desktop',
    device_vendor: family(r.device.vendor),
  });
}

export function createDeviceParser({ cacheSize = 5000 }: { cacheSize?: number } = {}): DeviceParser {
  const cache = new LRUCache<string, Outcome<Device>>({ max: Math.max(1, cacheSize) });
  return {
    parse(ua) {
      const key = ua.length > MAX_UA ? ua.slice(0, MAX_UA) : ua;
      let out = cache.get(key);
      if (!out) {
        out = parseDevice(key);
        cache.set(key, out);
      }
      return out;
    },
  };
}
