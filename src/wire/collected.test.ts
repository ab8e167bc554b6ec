import { describe, expect, it } from 'vitest';
import { EventBuilder } from '../../test/support/builders.js';
import { checkCollected } from './collected.js';
import { MAX_CLOCK_SKEW_MS, MAX_EVENTS } from './limits.js';

const sites = { demo: ['localhost'] };
const now = Date.UTC(2026, 11, 1, 12);
const window = { now, maxAgeMs: 72 * 3_600_000 };
const ctx = { site: 'demo', ip: '198.51.100.7', userAgent: 'UA', receivedAt: now - 1000 };
const ev = () => EventBuilder.pageview().build();
const check = (reqs: unknown) => checkCollected(reqs, sites, window);
const reason = (reqs: unknown) => {
  const r = check(reqs);
  return r.ok ? 'ok' : r.reason;
};

describe('checkCollected: a worker applies the collector rules again', () => {
  it('accepts what a collector writes, as fresh copies, with the earliest receive time', () => {
    const reqs = [
      { ctx, events: [ev(), ev()] },
      { ctx: { ...ctx, ip: '', receivedAt: now - 5000 }, events: [ev()] },
    ];
    const r = check(reqs);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.requests).toEqual(reqs);
    expect(r.requests[0]!.ctx).not.toBe(reqs[0]!.ctx);
    expect(r.receivedFrom).toBe(now - 5000);
  });

  it.each([
    ['not a list', { ctx, events: [ev()] }, 'malformed_payload'],
    ['an empty list', [], 'malformed_payload'],
    ['an extra request field', [{ ctx, events: [ev()], more: 1 }], 'malformed_payload'],
    ['an extra context field', [{ ctx: { ...ctx, extra: 1 }, events: [ev()] }], 'request_context'],
    ['a missing context field', [{ ctx: { ...ctx, userAgent: undefined }, events: [ev()] }], 'request_context'],
    ['an unknown site', [{ ctx: { ...ctx, site: 'other' }, events: [ev()] }], 'unknown_site'],
    ['a prototype key as site', [{ ctx: { ...ctx, site: '__proto__' }, events: [ev()] }], 'unknown_site'],
    ['an inherited key as site', [{ ctx: { ...ctx, site: 'toString' }, events: [ev()] }], 'unknown_site'],
    ['a legacy address', [{ ctx: { ...ctx, ip: '3232235777' }, events: [ev()] }], 'client_address'],
    ['a zone id', [{ ctx: { ...ctx, ip: 'fe80::1%eth0' }, events: [ev()] }], 'client_address'],
    ['a long user agent', [{ ctx: { ...ctx, userAgent: 'x'.repeat(513) }, events: [ev()] }], 'request_context'],
    ['a receive time ahead of the clock', [{ ctx: { ...ctx, receivedAt: now + MAX_CLOCK_SKEW_MS + 1 }, events: [ev()] }], 'future'],
    ['a receive time in 2100', [{ ctx: { ...ctx, receivedAt: Date.UTC(2100, 0, 1) }, events: [ev()] }], 'future'],
    ['a receive time past the window', [{ ctx: { ...ctx, receivedAt: now - window.maxAgeMs - 1 }, events: [ev()] }], 'expired'],
    ['a receive time that is not a time', [{ ctx: { ...ctx, receivedAt: '2026-12-01' }, events: [ev()] }], 'request_context'],
    ['more events than a request may hold', [{ ctx, events: Array.from({ length: MAX_EVENTS + 1 }, ev) }], 'too_many_events'],
    ['no events', [{ ctx, events: [] }], 'invalid_event'],
    ['an event of a foreign host', [{ ctx, events: [EventBuilder.pageview('https://evil.example/').build()] }], 'invalid_event'],
    ['an event with an unknown key', [{ ctx, events: [{ ...ev(), secret: 'x' }] }], 'invalid_event'],
  ])('refuses %s', (_what, reqs, want) => {
    expect(reason(reqs)).toBe(want);
  });

  it('refuses a job whose requests together exceed the largest group commit', () => {
    const reqs = Array.from({ length: 2002 }, () => ({ ctx, events: Array.from({ length: MAX_EVENTS }, ev) }));
    expect(reason(reqs)).toBe('too_many_events');
  });

  it('takes a job of an older collector that still sealed Accept-Language, and drops that field unread', () => {
    const r = check([{ ctx: { ...ctx, acceptLanguage: 'de-CH,de;q=0.9' }, events: [ev()] }]);
    expect(r.ok && r.requests[0]!.ctx).toEqual(ctx);
    expect(reason([{ ctx: { ...ctx, acceptLanguage: 'x'.repeat(129) }, events: [ev()] }])).toBe('request_context');
  });

  it('accepts a receive time within the clock skew ahead of the worker', () => {
    expect(reason([{ ctx: { ...ctx, receivedAt: now + MAX_CLOCK_SKEW_MS }, events: [ev()] }])).toBe('ok');
  });
});
