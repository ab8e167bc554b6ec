/**
 * Daily salts and keyed ids (docs/design.md §3.3), with a controllable clock:
 * after rotation yesterday's ids do not link to today's, a salt lives at most
 * 48 h, only today's and yesterday's exist, and a day past the window gets a
 * one-off salt that is never stored.
 */
import { describe, expect, it } from 'vitest';
import { dayIdKey, dayKey, saltExpiry, saltFingerprint, SaltRing, type SaltBackend } from './salts.js';
import { createHash, createHmac } from 'node:crypto';
import { eventId, keyedId, pageviewId, pageviewKey, visitorId } from './ids.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 25, 9, 30); // 2026-11-25 09:30 UTC

/** An in-memory SaltBackend with Redis' SET NX + PXAT semantics, on the test's clock. */
class ClockedBackend implements SaltBackend {
  readonly store = new Map<string, { value: Buffer; expireAt: number }>();
  readonly writes: { key: string; at: number; expireAt: number }[] = [];
  failNext = false;
  constructor(private readonly clock: { now: number }) {}
  async getOrCreate(key: string, value: Buffer, expireAtMs: number): Promise<Buffer> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('redis down');
    }
    this.expire();
    const have = this.store.get(key);
    if (have) return have.value;
    this.store.set(key, { value, expireAt: expireAtMs });
    this.writes.push({ key, at: this.clock.now, expireAt: expireAtMs });
    return value;
  }
  live(): string[] {
    this.expire();
    return [...this.store.keys()].sort();
  }
  private expire() {
    for (const [k, v] of this.store) if (v.expireAt <= this.clock.now) this.store.delete(k);
  }
}

/** The worker secret (src/queue/keys.ts workerIdSecret derives it from the private sealing key). */
const SECRET = Buffer.alloc(32, 0x5e);

function setup(start = T0) {
  const clock = { now: start };
  const backend = new ClockedBackend(clock);
  const ring = new SaltRing(backend, SECRET, () => clock.now);
  return { clock, backend, ring };
}

const SITE = 'shop';
const IP = '198.51.100.213';
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('keyed ids', () => {
  const salt = Buffer.alloc(32, 7);

  it('are 64-bit unsigned decimals, deterministic under one salt, different under another', () => {
    const id = visitorId(salt, SITE, IP, UA);
    expect(id).toMatch(/^\d{1,20}$/);
    expect(BigInt(id) < 2n ** 64n).toBe(true);
    expect(visitorId(salt, SITE, IP, UA)).toBe(id);
    expect(visitorId(Buffer.alloc(32, 8), SITE, IP, UA)).not.toBe(id);
  });

  it('depend on every input: site, full address, user agent', () => {
    const id = visitorId(salt, SITE, IP, UA);
    expect(visitorId(salt, 'other', IP, UA)).not.toBe(id);
    // The full address, not the truncated one: two visitors in one /24 are two visitors.
    expect(visitorId(salt, SITE, '198.51.100.214', UA)).not.toBe(id);
    expect(visitorId(salt, SITE, IP, `${UA} x`)).not.toBe(id);
  });

  it('are HMAC-SHA256 of the length-prefixed parts, cut to 64 bits', () => {
    for (const key of [salt, Buffer.alloc(32, 0xab), Buffer.alloc(100, 7)]) {
      const want = createHmac('sha256', key).update('7:visitor4:shop3:1.2').digest().readBigUInt64BE(0).toString();
      expect(keyedId(key, 'visitor', 'shop', '1.2')).toBe(want);
    }
  });

  it('event ids are SHA-256 of the page view secret (the last 192 bits of its HMAC) and the client event id', () => {
    const pv = pageviewKey(salt, SITE, '42', 'Qm81abcdef');
    const mac = createHmac('sha256', salt).update('8:pageview4:shop2:4210:Qm81abcdef').digest();
    expect(pv.id).toBe(mac.readBigUInt64BE(0).toString());
    expect(pv.secret).toBe(mac.subarray(8).toString('hex'));
    const want = createHash('sha256').update(`${pv.secret}:k3J9x2abcd`).digest().readBigUInt64BE(0).toString();
    expect(eventId(pv, 'k3J9x2abcd')).toBe(want);
    expect(eventId(pageviewKey(Buffer.alloc(32, 9), SITE, '42', 'Qm81abcdef'), 'k3J9x2abcd')).not.toBe(want);
  });

  it('length-prefix their parts, so shifted boundaries never collide', () => {
    expect(keyedId(salt, 'ab', 'c')).not.toBe(keyedId(salt, 'a', 'bc'));
    expect(keyedId(salt, '1:a', '')).not.toBe(keyedId(salt, '1', 'a'));
  });

  it('never contain a client-chosen value, and keep the roles apart', () => {
    const v = visitorId(salt, SITE, IP, UA);
    const pv = pageviewId(salt, SITE, v, 'Qm81abcdef');
    const ev = eventId(pageviewKey(salt, SITE, v, 'Qm81abcdef'), 'k3J9x2abcd');
    for (const id of [pv, ev]) {
      expect(id).toMatch(/^\d+$/);
      expect(id).not.toContain('Qm81');
    }
    expect(new Set([v, pv, ev]).size).toBe(3);
    // The same client page-view and event ids from two visitors give two page views and two events.
    const other = visitorId(salt, SITE, '203.0.113.9', UA);
    expect(pageviewId(salt, SITE, other, 'Qm81abcdef')).not.toBe(pv);
    expect(eventId(pageviewKey(salt, SITE, other, 'Qm81abcdef'), 'k3J9x2abcd')).not.toBe(ev);
  });
});

describe('daily salts', () => {
  it('one salt per UTC day: events of a day share it, the next day gets another', async () => {
    const { clock, ring } = setup();
    const morning = await ring.saltFor(Date.UTC(2026, 10, 25, 0, 0, 1));
    const evening = await ring.saltFor(Date.UTC(2026, 10, 25, 23, 59, 59));
    expect(morning.salt.length).toBe(32);
    expect(evening.salt.equals(morning.salt)).toBe(true);
    expect(morning.late).toBe(false);
    clock.now = T0 + DAY;
    const tomorrow = await ring.saltFor(clock.now);
    expect(tomorrow.salt.equals(morning.salt)).toBe(false);
  });

  it("after rotation yesterday's visitor, page-view and event ids do not link to today's", async () => {
    const { clock, ring } = setup();
    const ids = async (at: number) => {
      const { salt } = await ring.saltFor(at);
      const v = visitorId(salt, SITE, IP, UA);
      return { v, pv: pageviewId(salt, SITE, v, 'Qm81abcdef'), ev: eventId(pageviewKey(salt, SITE, v, 'Qm81abcdef'), 'k3J9x2abcd') };
    };
    const day1 = await ids(clock.now);
    expect(await ids(clock.now + HOUR)).toEqual(day1); // same day: linked, as intended
    clock.now += DAY;
    const day2 = await ids(clock.now);
    expect(day2.v).not.toBe(day1.v);
    expect(day2.pv).not.toBe(day1.pv);
    expect(day2.ev).not.toBe(day1.ev);
    // Yesterday's events still in the queue are hashed under yesterday's salt: same ids as before.
    expect(await ids(T0)).toEqual(day1);
  });

  it('a salt expires at the end of the following UTC day: never more than 48 h after it was created', async () => {
    const { clock, backend, ring } = setup(Date.UTC(2026, 10, 25, 0, 0, 0));
    await ring.saltFor(clock.now);
    clock.now += 13 * HOUR;
    await ring.saltFor(clock.now - DAY); // yesterday's, created late
    expect(backend.writes).toHaveLength(2);
    for (const w of backend.writes) {
      expect(w.expireAt - w.at).toBeLessThanOrEqual(48 * HOUR);
      expect(w.expireAt).toBeGreaterThan(w.at);
    }
    expect(saltExpiry(T0) - Date.UTC(2026, 10, 25)).toBe(48 * HOUR);
    expect(dayKey(T0)).toBe('2026-11-25');
  });

  it("only today's and yesterday's salts exist; after that nobody can recompute an id", async () => {
    const { clock, backend, ring } = setup();
    const first = await ring.saltFor(T0);
    const idDay1 = visitorId(first.salt, SITE, IP, UA);
    clock.now = T0 + DAY;
    await ring.saltFor(clock.now);
    expect(backend.live()).toEqual(['2026-11-25', '2026-11-26']);
    clock.now = T0 + 2 * DAY;
    await ring.saltFor(clock.now);
    expect(backend.live()).toEqual(['2026-11-26', '2026-11-27']);
    // An event of day 1 arriving now (a queue stalled for two days) gets a one-off salt, never stored.
    const late = await ring.saltFor(T0);
    expect(late.late).toBe(true);
    expect(late.salt.equals(first.salt)).toBe(false);
    expect(visitorId(late.salt, SITE, IP, UA)).not.toBe(idDay1);
    const again = await ring.saltFor(T0);
    expect(again.salt.equals(late.salt)).toBe(false);
    expect(backend.live()).toEqual(['2026-11-26', '2026-11-27']);
  });

  it('an event stamped in the future uses today\'s salt, so no salt outlives 48 h', async () => {
    const { clock, backend, ring } = setup(Date.UTC(2026, 10, 25, 23, 59, 58));
    const today = await ring.saltFor(clock.now);
    const ahead = await ring.saltFor(clock.now + 5000); // collector clock 5 s ahead, past midnight
    expect(ahead.salt.equals(today.salt)).toBe(true);
    expect(backend.live()).toEqual(['2026-11-25']);
    expect(Math.max(...backend.writes.map((w) => w.expireAt - w.at))).toBeLessThanOrEqual(48 * HOUR);
  });

  it('workers agree: the first salt stored for a day wins', async () => {
    const clock = { now: T0 };
    const backend = new ClockedBackend(clock);
    const a = new SaltRing(backend, SECRET, () => clock.now);
    const b = new SaltRing(backend, SECRET, () => clock.now);
    const [sa, sb] = await Promise.all([a.saltFor(T0), b.saltFor(T0)]);
    expect(sa.salt.equals(sb.salt)).toBe(true);
  });

  it('a failed fetch is not cached: the next call tries again', async () => {
    const { backend, ring } = setup();
    backend.failNext = true;
    await expect(ring.saltFor(T0)).rejects.toThrow('redis down');
    const ok = await ring.saltFor(T0);
    expect(ok.salt.length).toBe(32);
  });

  it('ids are keyed by the salt under the worker secret: the stored salt alone recomputes nothing', async () => {
    const { backend, ring } = setup();
    const { salt: key } = await ring.saltFor(T0);
    const stored = backend.store.get('2026-11-25')!.value;
    expect(key.equals(dayIdKey(stored, SECRET))).toBe(true);
    expect(key.equals(stored)).toBe(false);
    expect(key.equals(createHmac('sha256', SECRET).update('anon-analytics/day-id-key/v1\0').update(stored).digest())).toBe(true);
    const id = visitorId(key, SITE, IP, UA);
    // Who holds the salt (a Redis dump) but not the secret gets other ids; so does who holds another secret.
    expect(visitorId(stored, SITE, IP, UA)).not.toBe(id);
    expect(visitorId(dayIdKey(stored, Buffer.alloc(32, 0x5f)), SITE, IP, UA)).not.toBe(id);
    // Two workers with the same secret agree; the secret never replaces the salt (a new day, a new key).
    const other = new SaltRing(backend, SECRET, () => T0);
    expect((await other.saltFor(T0)).salt.equals(key)).toBe(true);
  });

  it('refuses a short worker secret', () => {
    expect(() => new SaltRing(new ClockedBackend({ now: T0 }), Buffer.alloc(16))).toThrow(/at least 32 bytes/);
  });

  it('a fingerprint identifies a salt without revealing it', () => {
    const salt = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
    const fp = saltFingerprint(salt);
    expect(fp).toMatch(/^[0-9a-f]{8}$/);
    expect(salt.toString('hex')).not.toContain(fp);
    expect(salt.toString('base64')).not.toContain(fp);
  });
});
