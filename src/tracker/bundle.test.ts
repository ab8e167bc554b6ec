/**
 * The tracker bundle: its byte budget (issue 4: ≤ 2.5 KB gzip; raised to
 * 3,000 bytes by issue 12, whose query-string and referrer stripping in the
 * browser took it to about 2.6 KB; to 3,500 bytes by issue 13, for product
 * impressions and layout arms, 557 bytes, and issue 14's first frustration
 * signals; to 3,750 bytes by the rest of issue 14, 247 bytes: rage clicks as
 * three clicks within 1 s within 30 px, dead clicks that watch text changes,
 * form-control names and the icon clicked in selectors, block coordinates in
 * data-track blocks, and quick backs from the Navigation API; aliasing globals
 * and other minifier-proof renames measured at under 5 bytes gzipped) and the
 * browser APIs it must never touch. Behaviour is tested in a real browser in
 * test/tracker.browser.test.ts; the script's own logic in src/tracker/script/*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildTracker } from './bundle.js';

const BUDGET_GZIP_BYTES = 3750;

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
