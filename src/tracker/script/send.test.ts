import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './send.js';

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
