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

function short(s: string | undefined): string {
  return (s ?? '').slice(0, 32);
}

export function parseDevice(uaRaw: string): Outcome<Device> {
  const ua = uaRaw.slice(0, MAX_UA);
  if (ua.trim() === '' || isbot(ua) || AUTOMATION.test(ua)) return drop('bot');
  const r = new UAParser(ua).getResult();
  return ok({
    browser: short(r.browser.name),
    browser_major: major(r.browser.version),
    os: short(r.os.name),
    os_major: major(r.os.version),
    device_type: short(r.device.type) || 'desktop',
    device_vendor: short(r.device.vendor),
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
