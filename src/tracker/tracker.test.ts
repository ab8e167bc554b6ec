/**
 * The tracker bundle: its byte budget (issue 4: ≤ 2.5 KB gzip) and the
 * browser APIs it must never touch. Behaviour is tested in a real browser in
 * test/tracker.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildTracker } from './bundle.js';
import { retryAfterMs } from './send.js';

const BUDGET_GZIP_BYTES = 2500;

describe('tracker bundle', () => {
  it(`is at most ${BUDGET_GZIP_BYTES} bytes gzipped`, async () => {
    const t = await buildTracker();
    expect(t.code.length).toBeGreaterThan(1000);
    expect(t.gzipBytes).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
  });

  it('reads no text, no form values, no cookies and no session storage', async () => {
    const { code } = await buildTracker();
    for (const api of ['textContent', 'innerText', 'innerHTML', 'outerHTML', '.value', 'cookie', 'sessionStorage', 'getSelection', 'indexedDB']) {
      expect(code, api).not.toContain(api);
    }
    // localStorage holds only the opt-out flag: every call uses the one key constant.
    const calls = [...code.matchAll(/localStorage\.(\w+)\((\w+)/g)];
    expect(calls.map((m) => m[1]).sort()).toEqual(['getItem', 'removeItem', 'setItem']);
    expect(new Set(calls.map((m) => m[2])).size).toBe(1);
    expect(code).toContain('"anonAnalytics.optOut"');
  });

  it('is one self-contained script: no imports, no dynamic code', async () => {
    const { code } = await buildTracker();
    expect(code).not.toMatch(/\bimport\s*\(|\brequire\(|\beval\(|new Function/);
  });
});

describe('Retry-After (429/503) in the tracker', () => {
  const now = Date.parse('2026-01-05T10:00:00Z');
  it('reads seconds and HTTP dates, bounded to 1 s … 5 min, 10 s when absent or unreadable', () => {
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs(' 30 ', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 05 Jan 2026 10:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs(new Date(now + 42_000).toUTCString(), now)).toBe(42_000);
    expect(retryAfterMs('0', now)).toBe(1000); // never a tight loop
    expect(retryAfterMs('Mon, 05 Jan 2026 09:00:00 GMT', now)).toBe(1000); // in the past
    expect(retryAfterMs('86400', now)).toBe(300_000);
    expect(retryAfterMs('Tue, 06 Jan 2026 10:00:00 GMT', now)).toBe(300_000);
    for (const bad of [null, '', 'soon', '-5s', '1.5e3x']) expect(retryAfterMs(bad, now), String(bad)).toBe(10_000);
  });
});
