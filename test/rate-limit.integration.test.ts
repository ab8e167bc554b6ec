/**
 * Rate limits (issue 7, item 7): per site and per client address, counted in
 * Redis under the queue prefix, answered 429 + Retry-After, and the address
 * appears in Redis only as a keyed hash.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollectorApp } from '../src/collect/app.js';
import { RateLimiter } from '../src/collect/rate-limit.js';
import { createHttpServer, listen } from '../src/http/server.js';
import { createLogger } from '../src/observe/logger.js';
import { createMetrics } from '../src/observe/metrics.js';
import { producerConnection } from '../src/queue/redis.js';
import { batch, BROWSER_UA, EventBuilder } from './support/builders.js';
import { REDIS_URL, startTestPipeline, type TestPipeline } from './support/pipeline.js';

const WINDOW_MS = 4000;
const PER_ADDRESS = 5;
const PER_SITE = 12;
const CANARY_IP = '198.51.100.77';

let p: TestPipeline;
let redis: Redis;

beforeAll(async () => {
  p = await startTestPipeline({
    TRUST_PROXY: 'loopback',
    QUEUE_HIGH_WATER: '1000000',
    SITES: JSON.stringify({ demo: ['localhost'], other: ['localhost'], third: ['localhost'] }),
    RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
    RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
    RATE_LIMIT_PER_SITE: String(PER_SITE),
  });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await p?.close();
});

/** Waits for the start of a fresh window, so a short burst is counted in one window. */
async function freshWindow(): Promise<void> {
  const into = Date.now() % WINDOW_MS;
  await new Promise((r) => setTimeout(r, WINDOW_MS - into + 20));
}

const send = (ip: string, site = 'demo') =>
  p.post(batch([EventBuilder.pageview('http://localhost/rate/limited')], site), { 'X-Forwarded-For': ip });

async function rateKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  for (let i = 0; i < 1000; i++) {
    const [next, batchKeys] = await redis.scan(cursor, 'MATCH', `${p.prefix}:rl:*`, 'COUNT', 1000);
    keys.push(...batchKeys);
    cursor = next;
    if (cursor === '0') break;
  }
  return keys;
}

describe('per client address', () => {
  it('answers 429 + Retry-After past the limit, other addresses unaffected, and no raw IP in Redis', async () => {
    await freshWindow();
    const t0 = Date.now();
    for (let i = 0; i < PER_ADDRESS; i++) expect((await send(CANARY_IP, 'demo')).status).toBe(202);
    const over = await send(CANARY_IP, 'other');
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: 'rate limit of this address exceeded; retry later' });
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
    // Refused before reading the body too (this process remembers the block): even a bad body gets 429.
    expect((await p.post('not json', { 'X-Forwarded-For': CANARY_IP })).status).toBe(429);
    // Another address is counted on its own.
    expect((await send('198.51.100.78', 'third')).status).toBe(202);
    expect(Date.now() - t0).toBeLessThan(WINDOW_MS);

    const keys = await rateKeys();
    expect(keys.length).toBeGreaterThanOrEqual(2);
    const counts = await Promise.all(keys.map((k) => redis.get(k)));
    expect(counts.map(Number)).toContain(PER_ADDRESS + 1);
    // Keys expire: nothing stays past the window (plus a second of slack).
    for (const k of keys) {
      const ttl = await redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW_MS + 1000);
    }
    const dump = (await p.redisDump()) + keys.join('\n');
    for (const canary of [CANARY_IP, '198.51.100', '198.51.100.78']) expect(dump).not.toContain(canary);

    // Only the 5 accepted requests of this address (and the other address's one) reached ClickHouse.
    expect(await p.waitForCount("SELECT count() n FROM events WHERE path = '/rate/limited'", PER_ADDRESS + 1)).toBe(PER_ADDRESS + 1);
  });

  it('lets the address in again in the next window', async () => {
    await freshWindow();
    expect((await send(CANARY_IP)).status).toBe(202);
  });
});

describe('per site', () => {
  it('answers 429 for a site past its limit, whatever the address, other sites unaffected', async () => {
    await freshWindow();
    const statuses: number[] = [];
    for (let i = 0; i < PER_SITE + 2; i++) statuses.push((await send(`192.0.2.${i + 1}`, 'other')).status);
    expect(statuses.slice(0, PER_SITE)).toEqual(new Array(PER_SITE).fill(202));
    expect(statuses.slice(PER_SITE)).toEqual([429, 429]);
    const again = await send('192.0.2.200', 'other');
    expect(again).toMatchObject({ status: 429, body: { error: 'rate limit of this site exceeded; retry later' } });
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await send('192.0.2.201', 'third')).status).toBe(202);
  });
});

describe('counters are shared through Redis', () => {
  it('a second collector sees the counts of the first (same prefix and secret)', async () => {
    const secret = 'shared-rate-limit-secret';
    const opts = { prefix: `${p.prefix}x`, windowMs: 60_000, perAddress: 3, perSite: 0, secret };
    const a = new RateLimiter(redis, opts);
    const b = new RateLimiter(redis, opts);
    expect(a.addressKey(CANARY_IP)).toBe(b.addressKey(CANARY_IP));
    expect(a.addressKey(CANARY_IP)).not.toContain(CANARY_IP);
    expect(new RateLimiter(redis, { ...opts, secret: 'another-secret-another' }).addressKey(CANARY_IP)).not.toBe(a.addressKey(CANARY_IP));
    const decisions = [await a.consume(CANARY_IP, 'demo'), await b.consume(CANARY_IP, 'demo'), await a.consume(CANARY_IP, 'demo'), await b.consume(CANARY_IP, 'demo')];
    expect(decisions.map((d) => d.ok)).toEqual([true, true, true, false]);
    // Requests checked in the same tick share one round trip, and each still gets its exact count.
    const burst = await Promise.all(Array.from({ length: 10 }, () => a.consume('192.0.2.50', 'demo')));
    expect(burst.map((d) => d.ok)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // The script survives a SCRIPT FLUSH (Redis restarted, failover): it is loaded again.
    await redis.script('FLUSH');
    expect((await a.consume('192.0.2.99', 'demo')).ok).toBe(true);
    await redis.del(...(await redis.keys(`${p.prefix}x:rl:*`)));
  });
});

describe('local counting far from the limit', () => {
  /** The real Redis, with its script calls counted. */
  const counted = () => {
    const calls = { n: 0 };
    const conn = {
      evalsha: (...args: Parameters<Redis['evalsha']>) => (calls.n++, redis.evalsha(...args)),
      eval: (...args: Parameters<Redis['eval']>) => (calls.n++, redis.eval(...args)),
    } as Pick<Redis, 'evalsha' | 'eval'>;
    return { conn, calls };
  };
  const opts = () => ({ prefix: `${p.prefix}l${Math.random().toString(36).slice(2, 8)}`, windowMs: 60_000, perAddress: 100, perSite: 0, secret: 'local-counting-secret' });

  it('asks Redis for the first request of a key, then counts locally, and sends the counts within the sync interval', async () => {
    const o = opts();
    const { conn, calls } = counted();
    const limiter = new RateLimiter(conn, o);
    try {
      expect((await limiter.consume('192.0.2.60', 'demo')).ok).toBe(true);
      expect(calls.n).toBe(1);
      // One after the other, as requests of one client come: none of them waits for Redis (a sync or two may
      // run meanwhile on a slow machine, nothing more).
      for (let i = 0; i < 30; i++) expect((await limiter.consume('192.0.2.60', 'demo')).ok).toBe(true);
      expect(calls.n).toBeLessThanOrEqual(3);
      const keys = await redis.keys(`${o.prefix}:rl:*`);
      expect(keys).toHaveLength(1);
      await expect.poll(async () => Number(await redis.get(keys[0]!)), { timeout: 5000 }).toBe(31);
    } finally {
      await limiter.close();
      await redis.del(...(await redis.keys(`${o.prefix}:rl:*`)));
    }
  });

  it('keeps the key of an address in use fresh: requests further apart than the sync interval are counted locally after the first', async () => {
    const o = opts();
    const { conn } = counted();
    const limiter = new RateLimiter(conn, o);
    try {
      // A visitor's pace: a request every 300 ms, three sync intervals apart.
      for (let i = 0; i < 10; i++) {
        expect((await limiter.consume('192.0.2.62', 'demo')).ok).toBe(true);
        await new Promise((r) => setTimeout(r, 300));
      }
      // The first waited for Redis; the others are counted here. (Before, each of the ten waited: its key had been
      // read more than 200 ms earlier.) A timer late by a sync interval on a loaded machine can make one more wait.
      const first = limiter.requestsCountedInRedis;
      expect(first).toBeGreaterThanOrEqual(1);
      expect(first).toBeLessThanOrEqual(3);
      const keys = await redis.keys(`${o.prefix}:rl:*`);
      await expect.poll(async () => Number(await redis.get(keys[0]!)), { timeout: 5000 }).toBe(10);
      // Another address, never seen in this window: its first request still asks Redis.
      expect((await limiter.consume('192.0.2.63', 'demo')).ok).toBe(true);
      expect(limiter.requestsCountedInRedis).toBe(first + 1);
    } finally {
      await limiter.close();
      await redis.del(...(await redis.keys(`${o.prefix}:rl:*`)));
    }
  });

  it('past half the limit every request is counted in Redis: two collectors together take exactly the limit', async () => {
    const o = opts();
    const a = new RateLimiter(redis, o);
    const b = new RateLimiter(redis, o);
    try {
      const ip = '192.0.2.61';
      let accepted = 0;
      // Each takes 45 (under half of 100 as far as it knows), locally after its first.
      for (let i = 0; i < 45; i++) accepted += Number((await a.consume(ip, 'demo')).ok) + Number((await b.consume(ip, 'demo')).ok);
      expect(accepted).toBe(90);
      // Whatever either knows now, 45 + 45 + 1 is past half: every further request is counted in Redis, exactly.
      for (let i = 0; i < 20; i++) accepted += Number((await a.consume(ip, 'demo')).ok) + Number((await b.consume(ip, 'demo')).ok);
      expect(accepted).toBe(100);
    } finally {
      await a.close();
      await b.close();
      await redis.del(...(await redis.keys(`${o.prefix}:rl:*`)));
    }
  });
});

describe('Redis unreachable', () => {
  it('answers 503 + Retry-After, never 500 and never 202', async () => {
    // A real client, as the collector builds it, pointed at a port where nothing listens.
    const down = producerConnection('redis://127.0.0.1:1');
    down.on('error', () => {});
    let submitted = 0;
    const app = createCollectorApp({
      sites: { demo: ['localhost'] },
      trustProxy: false,
      consent: { honorGpc: true, honorDnt: true },
      queue: { overloaded: () => false, submit: async () => void submitted++ },
      readiness: [],
      metrics: createMetrics(),
      log: createLogger('silent', 'test'),
      rateLimit: new RateLimiter(down, { prefix: 'unused', windowMs: 10_000, perAddress: 100, perSite: 100 }),
    });
    const server = createHttpServer(app);
    const url = await listen(server, 0, '127.0.0.1');
    try {
      const t0 = Date.now();
      const res = await fetch(`${url}/collect`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA },
        body: JSON.stringify(batch([EventBuilder.pageview('http://localhost/')])),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(await res.json()).toEqual({ error: 'queue unavailable; retry later' });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(submitted).toBe(0);
    } finally {
      down.disconnect();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('metrics', () => {
  it('counts refusals by reason', async () => {
    const text = await (await fetch(`${p.queryUrl}/metrics`)).text();
    const value = (reason: string) => Number(new RegExp(`anon_collect_refused_requests_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(value('rate_limited_address')).toBeGreaterThanOrEqual(2);
    expect(value('rate_limited_site')).toBeGreaterThanOrEqual(3);
  });
});
