/**
 * The privacy canary (issue 3, item 8): events from canary IPv4 and IPv6
 * addresses (plain and every embedded-IPv4 form), a canary User-Agent, and
 * emails, phone and card numbers in URLs, referrers, selectors, labels and
 * custom props go through the whole pipeline (collector → sealed job in
 * Redis → worker → embedded ClickHouse). Redis is scanned twice: while the
 * jobs wait (the queue paused, so the sealed jobs are certainly there: the
 * scan must see them, or it proves nothing) and after processing (salts,
 * counters, nothing left behind). Every column of every ClickHouse table and
 * the process logs are scanned too: no canary anywhere, while the expected
 * anonymised values are there.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, EventBuilder } from './support/builders.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { createCollectorApp } from '../src/collect/app.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createLogger } from '../src/observe/logger.js';
import type { RequestContext } from '../src/wire/types.js';

const V4 = '198.51.100.213';
const V6 = '2001:db8:c0de:cafe:5eed:beef:f00d:4242';
const SIX_TO_FOUR = '2002:c633:64d5::1'; // carries 198.51.100.213
const TEREDO = '2001:0:4136:e378:8000:63bf:39cc:9b2a'; // client 198.51.100.213, obfuscated
const MAPPED = `::ffff:${V4}`;
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36 CanaryUA/7.7.7-qz9';
const EMAIL = 'jane.canary@example.com';
const PHONE = '+49 30 98765432';
const CARD = '4111 1111 1111 1111';

/** Strings that must not appear anywhere at rest. Fragments with ':' or '.' cannot occur by chance in base64 ciphertext. */
const CANARIES = [
  V4,
  '51.100.213',
  'cafe:5eed',
  '5eed:beef',
  'f00d:4242',
  'c633:64d5',
  '39cc:9b2a',
  UA,
  'CanaryUA',
  '6778.86',
  '7.7.7-qz9',
  'Win64; x64',
  'jane.canary',
  'canary@',
  'canary%40',
  'example.com',
  '98765432',
  '4111111111111111',
  '4111 1111',
  '4111-1111',
  'jane-canary',
];

let p: TestPipeline;

/** The BullMQ job hashes in a Redis dump (lines `key hash {…}` with a `data` field) and their job data. */
function jobHashes(dump: string): { key: string; data: Record<string, unknown> }[] {
  const out: { key: string; data: Record<string, unknown> }[] = [];
  for (const line of dump.split('\n')) {
    const m = /^(\S+) hash (.*)$/.exec(line);
    if (!m) continue;
    const fields = JSON.parse(m[2]!) as Record<string, string>;
    if (typeof fields.data !== 'string' || typeof fields.name !== 'string') continue;
    out.push({ key: m[1]!, data: JSON.parse(fields.data) as Record<string, unknown> });
  }
  return out;
}

beforeAll(async () => {
  p = await startTestPipeline({ TRUST_PROXY: 'loopback', QUEUE_HIGH_WATER: '1000000', QUERY_ALLOWLIST: 'variant' });
});
afterAll(async () => {
  await p?.close();
});

const counter = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, label?: Record<string, string>) =>
  (await c.get()).values.filter((v) => !label || Object.entries(label).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);

describe('privacy canary through the whole pipeline', () => {
  it('stores only anonymised values; no canary in ClickHouse, Redis or the logs', async () => {
    const droppedBotsBefore = await counter(p.app.metrics.eventsDropped, { reason: 'bot' });
    const refusedBefore = await counter(p.app.metrics.unknownIp);
    const headers = (ip: string) => ({ 'X-Forwarded-For': ip, 'User-Agent': UA, 'Accept-Language': 'de-CH,de;q=0.9' });
    // Hold every job in Redis until it has been scanned: the worker takes nothing from a paused queue.
    const queue = p.app.collector.producer.queue;
    await queue.pause();

    const full = batch([
      EventBuilder.pageview(
        `http://localhost/account/${encodeURIComponent(EMAIL)}/orders/${CARD.replace(/ /g, '')}?utm_source=${EMAIL}&utm_campaign=spring&variant=${encodeURIComponent(PHONE)}&phone=${encodeURIComponent(PHONE)}&secret=98765432#${EMAIL}`,
      ).referrer(`https://www.example.org/inbox/${EMAIL}?tel=${encodeURIComponent(PHONE)}`),
      EventBuilder.pageview(`http://localhost/call/${encodeURIComponent(PHONE)}`).referrer(`http://localhost/u/${EMAIL}?card=${CARD}`),
      EventBuilder.click('http://localhost/products/usb-c-65w').with({
        click: { selector: `main>div#${EMAIL}>input[value="${CARD}"].qty>button.add`, label: 'add-to-cart', x: 0.4242, y: 0.1717, page_x: 813, page_y: 1207 },
      }),
      EventBuilder.click('http://localhost/products/usb-c-65w').with({
        click: { selector: 'button.buy', label: CARD.replace(/ /g, ''), x: 0.5, y: 0.5, page_x: 10, page_y: 10 },
      }),
      EventBuilder.custom('http://localhost/cart').with({
        custom: { name: 'checkout_start', props: { email: EMAIL, note: `call ${PHONE}`, card: CARD, items: 2, userId: 'jane-canary', contact: EMAIL } },
      }),
    ]);
    expect(await p.post(full, headers(V4))).toMatchObject({ status: 202, body: { accepted: 5, rejected: [] } });
    for (const ip of [V6, SIX_TO_FOUR, TEREDO, MAPPED, '0xc6.51.100.213', `${V4}:4242`]) {
      expect(await p.post(batch([EventBuilder.pageview('http://localhost/landing')]), headers(ip))).toMatchObject({ status: 202, body: { accepted: 1 } });
    }
    // A crawler with the same canaries: dropped by the worker and counted, nothing stored.
    const bot = batch([EventBuilder.pageview(`http://localhost/bot/${EMAIL}`)]);
    expect((await p.post(bot, { ...headers(V4), 'User-Agent': `Googlebot/2.1 (+http://www.google.com/bot.html) ${UA}` })).status).toBe(202);

    // Every Redis key while the jobs wait: the sealed jobs are there, and hold no canary.
    const waiting = await p.redisDump();
    const jobs = jobHashes(waiting);
    expect(jobs.length, 'job hashes in Redis while the queue is paused').toBeGreaterThanOrEqual(1);
    expect(jobs.reduce((n, j) => n + Number(j.data.n), 0)).toBe(12); // 11 stored events and the bot's, all waiting
    // Each holds its requests only as the sealed envelope "s" (base64 ciphertext), beside non-sensitive counts.
    for (const j of jobs) expect(j.data, j.key).toMatchObject({ s: expect.stringMatching(/^[A-Za-z0-9+/]{100,}={0,2}$/), n: expect.any(Number) });
    for (const canary of CANARIES) expect(waiting, `Redis holds ${canary} while jobs wait`).not.toContain(canary);
    expect(await p.waitForCount('SELECT count() n FROM events', 1, 500)).toBe(0);
    await queue.resume();

    expect(await p.waitForCount('SELECT count() n FROM events', 11)).toBe(11);
    await expect.poll(() => counter(p.app.metrics.eventsDropped, { reason: 'bot' }), { timeout: 15_000 }).toBe(droppedBotsBefore + 1);
    expect(await counter(p.app.metrics.unknownIp)).toBe(refusedBefore + 2);

    // The expected anonymised values are present.
    const rows = await p.rows<Record<string, any>>('SELECT * FROM events ORDER BY ts, type, path');
    expect(rows).toHaveLength(11);
    const byPrefix = rows.reduce<Record<string, number>>((m, r) => ({ ...m, [r.ip_prefix]: (m[r.ip_prefix] ?? 0) + 1 }), {});
    expect(byPrefix).toEqual({ '198.51.100.0/24': 8, '2001:db8:c000::/40': 1, '': 2 });
    const paths = rows.map((r) => r.path);
    expect(paths).toContain('/account/:email/orders/:card');
    expect(paths).toContain('/call/:phone');
    const first = rows.find((r) => r.path === '/account/:email/orders/:card')!;
    expect(first).toMatchObject({ utm_source: ':email', utm_campaign: 'spring', query: 'variant=:phone', referrer_host: 'example.org' });
    expect(rows.find((r) => r.path === '/call/:phone')).toMatchObject({ referrer_host: '' });
    const clicks = rows.filter((r) => r.type === 'click');
    expect(clicks.map((c) => c.click_selector).sort()).toEqual(['button.buy', 'main>div>input.qty>button.add']);
    expect(clicks.map((c) => c.click_label).sort()).toEqual(['', 'add-to-cart']);
    expect(clicks.find((c) => c.click_label === 'add-to-cart')).toMatchObject({ click_x: expect.closeTo(0.42, 5), click_y: expect.closeTo(0.17, 5), page_x: 810, page_y: 1200 });
    expect(rows.find((r) => r.type === 'custom')!.custom_props).toEqual({ items: '2' });
    for (const r of rows) {
      expect(r).toMatchObject({ browser: 'Chrome', os: 'Windows', device_type: 'desktop' });
      // Dropped (schemas/007): versions, vendor and language narrowed a visitor down and had no reader.
      for (const gone of ['browser_major', 'os_major', 'device_vendor', 'language', 'referrer_path', 'host']) expect(r).not.toHaveProperty(gone);
      expect(r.ts).toMatch(/\.000$/);
      expect(String(r.visitor_id)).toMatch(/^\d+$/);
    }

    // Every column of every ClickHouse table (and the system logs, when the engine keeps them).
    const tables = await p.rows<{ database: string; name: string; engine: string }>(
      "SELECT database, name, engine FROM system.tables WHERE (database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView')) OR (database = 'system' AND name IN ('query_log', 'text_log', 'part_log', 'processors_profile_log', 'query_views_log'))",
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['events', 'agg_pages_daily', 'agg_click_targets', 'agg_custom_daily', 'agg_visitor_days']));
    const scanned: string[] = [];
    for (const t of tables) {
      const data = JSON.stringify(await p.rows(`SELECT * FROM ${t.database}.${t.name}`));
      scanned.push(t.name);
      for (const canary of CANARIES) expect(data, `${t.database}.${t.name} holds ${canary}`).not.toContain(canary);
    }
    expect(scanned.length).toBeGreaterThanOrEqual(10);

    // Every Redis key after processing: salts and counters; the completed jobs are gone.
    const dump = await p.redisDump();
    expect(jobHashes(dump)).toEqual([]);
    expect(dump).toContain(`${p.prefix}:salt:`);
    for (const canary of CANARIES) expect(dump, `Redis holds ${canary}`).not.toContain(canary);

    // The process logs.
    const logs = p.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const canary of CANARIES) expect(logs, `logs hold ${canary}`).not.toContain(canary);
  });
});

describe('the client address comes from the socket unless TRUST_PROXY trusts the hop', () => {
  async function collectorWith(trustProxy: string | boolean) {
    const seen: RequestContext[] = [];
    const app = createCollectorApp({
      sites: { demo: ['localhost'] },
      trustProxy,
      consent: { honorGpc: true, honorDnt: true },
      queue: { overloaded: () => false, submit: async (r) => void seen.push(r.ctx) },
      readiness: [],
      metrics: createMetrics(),
      log: createLogger('silent', 'test'),
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/collect`;
    const send = async (xff: string) => {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'X-Forwarded-For': xff, 'User-Agent': UA }, body: JSON.stringify(batch([EventBuilder.pageview()])) });
      expect(res.status).toBe(202);
      return seen.at(-1)!.ip;
    };
    return { send, close: () => new Promise((r) => server.close(r)) };
  }

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const c = await collectorWith(false);
    try {
      expect(await c.send(V4)).toBe('127.0.0.1');
    } finally {
      await c.close();
    }
  });

  it('takes the forwarded address from a trusted hop, and refuses one that is not a canonical address', async () => {
    const c = await collectorWith('loopback');
    try {
      expect(await c.send(V4)).toBe(V4);
      expect(await c.send(`10.9.8.7, ${V6}`)).toBe(V6); // the nearest untrusted hop
      for (const bad of ['0xc6.51.100.213', '3332465877', `${V4}:4242`, `[${V6}]`, 'fe80::1%eth0', 'unknown']) expect(await c.send(bad), bad).toBe('');
    } finally {
      await c.close();
    }
  });
});
