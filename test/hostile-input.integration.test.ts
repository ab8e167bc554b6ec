/**
 * Hostile input to the collector (issue 7, item 6): every case is answered
 * with the right status, fast, and the process stays unharmed — it still
 * takes valid events into ClickHouse afterwards. The slow-client cases use
 * raw sockets to see exactly when the server hangs up.
 */
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollectorApp, type CollectQueue } from '../src/collect/app.js';
import type { RequestContext } from '../src/wire/types.js';
import { createHttpServer, listen } from '../src/http/server.js';
import { createLogger } from '../src/observe/logger.js';
import { createMetrics } from '../src/observe/metrics.js';
import { batch, BROWSER_UA, EventBuilder, mixedBatch } from './support/builders.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { rawRequest } from './support/raw-http.js';

const FAST_MS = 5000; // "not hanging": far below any client timeout (2.8 s was seen for a 415 under a full suite at load 25 on 2 cores)
const CANARY_XFF = '198.51.100.201';

let p: TestPipeline;
let port: number;

beforeAll(async () => {
  // No TRUST_PROXY: the peer (127.0.0.1) is not a trusted proxy, so X-Forwarded-For must be ignored.
  p = await startTestPipeline({ QUEUE_HIGH_WATER: '1000000' });
  port = (p.app.collector.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await p?.close();
});

/** POSTs and measures; `body` goes out byte for byte. */
async function timedPost(body: string | Uint8Array, headers: Record<string, string> = {}) {
  const t0 = performance.now();
  const res = await p.post(body, headers);
  return { ...res, ms: performance.now() - t0 };
}

const eventJson = (e: EventBuilder) => JSON.stringify(e.build());
const withEvents = (...events: string[]) => `{"site":"demo","events":[${events.join(',')}]}`;

describe('bodies over the limit', () => {
  it('413 at once for a declared length, before reading a byte', async () => {
    const r = await rawRequest({
      port,
      head: `POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1073741824\r\n\r\n`,
      timeoutMs: 5000,
    });
    expect(r.status).toBe(413);
    expect(r.response).toMatch(/larger than 65536 bytes/);
    expect(r.closedAfterMs).toBeLessThan(FAST_MS);
  });

  it('413 and a closed connection for an endless chunked body: the server does not keep reading', async () => {
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x61), Buffer.from('\r\n')]);
    const r = await rawRequest({
      port,
      head: `POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n`,
      drip: { chunk: () => chunk, everyMs: 1, maxChunks: 3000 }, // up to ~200 MB if the server let us
      timeoutMs: 8000,
    });
    expect(r.status).toBe(413);
    expect(r.response.toLowerCase()).toContain('connection: close');
    expect(r.closedAfterMs).toBeLessThan(3000);
    expect(r.written).toBeLessThan(100 * 0x10000);
  });
});

describe('framing tricks', () => {
  it('400 and a closed connection for Content-Length together with chunked, or a bad length', async () => {
    for (const framing of ['Content-Length: 5\r\nTransfer-Encoding: chunked', 'Content-Length: -1', 'Content-Length: 5, 6', 'Content-Length: 0x10']) {
      const r = await rawRequest({
        port,
        head: `POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n${framing}\r\n\r\n0\r\n\r\n`,
        timeoutMs: 5000,
      });
      expect(r.status, framing).toBe(400);
      expect(r.closedAfterMs, framing).toBeLessThan(FAST_MS);
    }
  });
});

describe('compressed bodies and foreign charsets', () => {
  // 20 MB of JSON-ish zeros shrinks to a few KB: decompressing it would be the bomb.
  const payload = Buffer.concat([Buffer.from('{"site":"demo","events":[],"pad":"'), Buffer.alloc(20 * 1024 * 1024, 0x30), Buffer.from('"}')]);
  const bombs: [string, Buffer][] = [
    ['gzip', gzipSync(payload, { level: 9 })],
    ['deflate', deflateSync(payload, { level: 9 })],
    ['br', brotliCompressSync(payload)],
    ['x-gzip', gzipSync(payload)],
    ['GZIP', gzipSync(payload)],
    ['identity, gzip', gzipSync(payload)],
    ['compress', gzipSync(payload)],
    ['zstd', gzipSync(payload)],
  ];
  it.each(bombs)('415 for Content-Encoding %s, nothing decompressed', async (encoding, body) => {
    expect(body.length).toBeLessThan(65_536);
    // Refused on the header alone, before a byte of the body is read, so nothing is ever inflated.
    const r = await timedPost(body, { 'Content-Encoding': encoding });
    expect(r).toMatchObject({ status: 415, body: { error: expect.stringMatching(/Content-Encoding is not supported/) } });
    expect(r.ms).toBeLessThan(FAST_MS);
  });

  it('415 for every charset but UTF-8, however it is spelled', async () => {
    const body = JSON.stringify(batch([EventBuilder.pageview()]));
    for (const type of [
      'text/plain; charset="UTF-7"',
      'text/plain;charset=utf-7',
      'application/json; charset=utf-16le',
      'text/plain; charset=iso-8859-1',
      'text/plain; charset=utf-8; charset=utf-7',
      'text/plain; charset=',
      'text/plain, application/json',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await timedPost(body, { 'Content-Type': type });
      expect(r.status, type).toBe(415);
      expect(r.ms).toBeLessThan(FAST_MS);
    }
    // Gzip smuggled as a transfer coding is not decoded either: the bytes are not JSON.
    const te = await rawRequest({
      port,
      head: Buffer.concat([
        Buffer.from(`POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n`),
      ]),
      drip: { chunk: () => '0\r\n\r\n', everyMs: 10, maxChunks: 1 },
      timeoutMs: 5000,
    });
    expect([400, 501]).toContain(te.status);
    expect(te.closedAfterMs).toBeLessThan(FAST_MS);
  });
});

describe('hostile JSON', () => {
  it('deep nesting is refused, not recursed into', async () => {
    const depth = 30_000;
    const deepArray = '['.repeat(depth) + ']'.repeat(depth);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const cases: [string, number][] = [
      [deepArray, 400],
      [withEvents(deepArray), 202],
      [`{"site":"demo","events":[${eventJson(EventBuilder.custom()).replace('"props":{"items":2}', `"props":{"items":${deepObject}}`)}]}`, 202],
      [`{"site":"demo","events":[${eventJson(EventBuilder.pageview()).replace('"viewport":{', `"viewport":{"z":${deepObject},`)}]}`, 202],
    ];
    for (const [body, status] of cases) {
      expect(body.length).toBeLessThan(65_536);
      const r = await timedPost(body);
      expect(r.status).toBe(status);
      expect(r.ms).toBeLessThan(FAST_MS);
      if (status === 202) expect(r.body).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });
    }
  });

  it('__proto__, constructor and prototype keys are refused at any depth and pollute nothing', async () => {
    const pollute = '{"polluted":"yes","toString":1}';
    const ok = eventJson(EventBuilder.pageview());
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const top = await timedPost(`{"${key}":${pollute},"site":"demo","events":[${ok}]}`);
      expect(top).toMatchObject({ status: 400, body: { error: `unknown key "${key}" in batch` } });
      const places = [
        ok.replace('{', `{"${key}":${pollute},`),
        ok.replace('"viewport":{', `"viewport":{"${key}":${pollute},`),
        eventJson(EventBuilder.click()).replace('"click":{', `"click":{"${key}":${pollute},`),
        eventJson(EventBuilder.engagement()).replace('"engagement":{', `"engagement":{"${key}":${pollute},`),
        eventJson(EventBuilder.custom()).replace('"custom":{', `"custom":{"${key}":${pollute},`),
        eventJson(EventBuilder.custom()).replace('"props":{', `"props":{"${key}":${pollute},`),
        eventJson(EventBuilder.custom()).replace('"props":{', `"props":{"${key}":"x",`),
      ];
      const r = await timedPost(withEvents(ok, ...places));
      expect(r.status).toBe(202);
      expect(r.body.accepted).toBe(1);
      expect(r.body.rejected.map((x: { index: number }) => x.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(r.ms).toBeLessThan(FAST_MS);
    }
    // The collector runs in this process: nothing reached Object.prototype.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(typeof ({}).toString).toBe('function');
  });

  it('huge arrays are refused by their length, not walked', async () => {
    const many = new Array(12_000).fill('0').join(',');
    const r1 = await timedPost(`{"site":"demo","events":[${many}]}`);
    expect(r1).toMatchObject({ status: 400, body: { error: '"events" holds at most 50 events, got 12000' } });
    const r2 = await timedPost(withEvents(eventJson(EventBuilder.custom()).replace('"props":{"items":2}', `"props":{"items":[${many}]}`)));
    expect(r2).toMatchObject({ status: 202, body: { accepted: 0, rejected: [{ index: 0, reason: 'custom.props.items: must be a string, number or boolean' }] } });
    const r3 = await timedPost(`[${many}]`);
    expect(r3.status).toBe(400);
    for (const r of [r1, r2, r3]) expect(r.ms).toBeLessThan(FAST_MS);
  });

  it('out-of-range numbers, NaN and Infinity', async () => {
    const pv = eventJson(EventBuilder.pageview());
    const click = eventJson(EventBuilder.click());
    const rejected = [
      pv.replace('"ts":1764000000000', '"ts":1e400'),
      pv.replace('"ts":1764000000000', '"ts":-1e400'),
      pv.replace('"ts":1764000000000', '"ts":123456789012345678901234567890'),
      pv.replace('"ts":1764000000000', '"ts":-1'),
      pv.replace('"ts":1764000000000', '"ts":1.5'),
      pv.replace('"w":1440', '"w":100001'),
      click.replace('"x":0.42', '"x":1.0000001'),
      click.replace('"page_x":812', '"page_x":1e999'),
      eventJson(EventBuilder.engagement()).replace('"scroll_depth":80', '"scroll_depth":101'),
      eventJson(EventBuilder.engagement()).replace('"visible_ms":27000', '"visible_ms":86400001'),
      eventJson(EventBuilder.custom()).replace('"items":2', '"items":1e16'),
    ];
    const r = await timedPost(withEvents(pv, ...rejected));
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected).toHaveLength(rejected.length);
    expect(r.ms).toBeLessThan(FAST_MS);
    for (const lit of ['NaN', 'Infinity', '-Infinity', '0x10', '1_000', '+1', '.5']) {
      const bad = await timedPost(withEvents(pv.replace('"ts":1764000000000', `"ts":${lit}`)));
      expect(bad, lit).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } });
    }
  });

  it('invalid UTF-8 in every form, and lone surrogates, are refused', async () => {
    const body = Buffer.from(JSON.stringify(batch([EventBuilder.pageview()])));
    const at = body.indexOf('products');
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
      const b = Buffer.concat([body.subarray(0, at), Buffer.from(bad), body.subarray(at)]);
      const r = await timedPost(b);
      expect(r, JSON.stringify(bad)).toMatchObject({ status: 400, body: { error: 'body is not valid UTF-8' } });
      expect(r.ms).toBeLessThan(FAST_MS);
    }
    // Escaped lone surrogates are valid JSON but not text: that event is rejected, its neighbour kept.
    const lone = eventJson(EventBuilder.click()).replace('"label":"add-to-cart"', '"label":"add\\ud800"');
    const r = await timedPost(withEvents(eventJson(EventBuilder.pageview()), lone));
    expect(r).toMatchObject({ status: 202, body: { accepted: 1, rejected: [{ index: 1, reason: 'click.label: not valid Unicode' }] } });
  });

  it('CR/LF in the site key: 400, never reflected into a header', async () => {
    for (const site of ['demo\r\nSet-Cookie: x=1', 'demo\n', '\r\ndemo', 'de\u2028mo']) {
      const r = await timedPost(JSON.stringify(batch([EventBuilder.pageview()], site)));
      expect(r).toMatchObject({ status: 400, body: { error: '"site" must be 1–64 of [a-z0-9._-]' } });
      expect(r.headers.get('set-cookie')).toBeNull();
    }
  });

  it('50,000-character strings in every field are refused fast, and never echoed', async () => {
    const long = 'a'.repeat(50_000);
    const longUrl = `http://localhost/${long}`;
    const variants: [string, Record<string, unknown>][] = [
      ['type', EventBuilder.pageview().with({ type: long as 'pageview' }).build() as never],
      ['id', EventBuilder.pageview().with({ id: long }).build() as never],
      ['pageview_id', EventBuilder.pageview().with({ pageview_id: long }).build() as never],
      ['url', EventBuilder.pageview(longUrl).build() as never],
      ['referrer', EventBuilder.pageview().referrer(longUrl).build() as never],
      ['selector', { ...EventBuilder.click().build(), click: { ...EventBuilder.click().build().click!, selector: long } }],
      ['label', { ...EventBuilder.click().build(), click: { ...EventBuilder.click().build().click!, label: long } }],
      ['custom name', { ...EventBuilder.custom().build(), custom: { name: long } }],
      ['prop value', { ...EventBuilder.custom().build(), custom: { name: 'x', props: { k: long } } }],
      ['prop key', { ...EventBuilder.custom().build(), custom: { name: 'x', props: { [long]: 1 } } }],
      ['unknown key', { ...EventBuilder.pageview().build(), [long]: 1 }],
      ['number as string', { ...EventBuilder.engagement().build(), engagement: { visible_ms: long, scroll_depth: 1 } }],
    ];
    for (const [what, e] of variants) {
      const r = await timedPost(JSON.stringify({ site: 'demo', events: [e] }));
      expect(r.status, what).toBe(202);
      expect(r.body, what).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });
      expect(JSON.stringify(r.body).length, what).toBeLessThan(300);
      expect(r.ms, what).toBeLessThan(FAST_MS);
    }
    for (const body of [{ site: long, events: [EventBuilder.pageview().build()] }, { [long]: 1, site: 'demo', events: [] }]) {
      const r = await timedPost(JSON.stringify(body));
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body).length).toBeLessThan(300);
    }
    // A 50,000-character header is over node's header limit: refused before our code runs.
    const h = await rawRequest({
      port,
      head: `POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nUser-Agent: ${long}\r\nContent-Length: 2\r\n\r\n{}`,
      timeoutMs: 5000,
    });
    expect(h.status).toBe(431);
  });
});

describe('forwarded addresses', () => {
  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const b = mixedBatch(3);
    const r = await timedPost(JSON.stringify(b), { 'X-Forwarded-For': CANARY_XFF, Forwarded: `for=${CANARY_XFF}`, 'X-Real-IP': CANARY_XFF });
    expect(r.status).toBe(202);
    const sql = `SELECT count() n FROM events WHERE ip_prefix = '127.0.0.0/24' AND path = '/products/p0'`;
    expect(await p.waitForCount(sql, 1)).toBeGreaterThanOrEqual(1);
    const rows = await p.rows<{ ip_prefix: string }>('SELECT DISTINCT ip_prefix FROM events');
    expect(rows.map((x) => x.ip_prefix)).not.toContain('198.51.100.0/24');
    expect(await p.redisDump()).not.toContain(CANARY_XFF);
  });

  it('behind a trusted proxy, passes on only canonical addresses', async () => {
    // The express app alone on a real HTTP server, with a queue that records what it is handed.
    const seen: RequestContext[] = [];
    const queue: CollectQueue = { overloaded: () => false, submit: async (r) => void seen.push(r.ctx) };
    const app = createCollectorApp({
      sites: { demo: ['localhost'] },
      trustProxy: 'loopback',
      consent: { honorGpc: true, honorDnt: true },
      queue,
      readiness: [],
      metrics: createMetrics(),
      log: createLogger('silent', 'test'),
    });
    const server = createHttpServer(app);
    const url = await listen(server, 0, '127.0.0.1');
    try {
      const cases: [string, string][] = [
        ['203.0.113.9', '203.0.113.9'],
        ['203.0.113.9, 127.0.0.1', '203.0.113.9'],
        ['2001:db8::1', '2001:db8::1'],
        ['0xc0.168.1.1', ''],
        ['192.168.1.010', ''],
        ['3232235777', ''],
        ['fe80::1%eth0', ''],
        ['unknown', ''],
        ['203.0.113.9:443', ''],
        ['[2001:db8::1]', ''],
        ['_hidden', ''],
        [' ', '127.0.0.1'],
        ['x'.repeat(4000), ''],
      ];
      for (const [xff, want] of cases) {
        seen.length = 0;
        const res = await fetch(`${url}/collect`, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA, 'X-Forwarded-For': xff },
          body: JSON.stringify(batch([EventBuilder.pageview()])),
        });
        expect(res.status, xff.slice(0, 40)).toBe(202);
        expect(seen.map((c) => c.ip), xff.slice(0, 40)).toEqual([want]);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('slow clients', () => {
  it('cuts off slowloris headers (~5 s) and bodies (~10 s) while serving everyone else', async () => {
    const headers = rawRequest({
      port,
      head: 'POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      drip: { chunk: () => 'X-Slow: a\r\n', everyMs: 500, maxChunks: 60 },
      timeoutMs: 20_000,
    });
    const silent = rawRequest({ port, head: '', timeoutMs: 20_000 });
    const body = rawRequest({
      port,
      head: 'POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\n{',
      drip: { chunk: () => ' ', everyMs: 500, maxChunks: 60 },
      timeoutMs: 20_000,
    });
    // Meanwhile the collector answers others at once.
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) expect((await p.post(mixedBatch(2))).status).toBe(202);
    expect(performance.now() - t0).toBeLessThan(5 * FAST_MS);

    const [h, s, b] = await Promise.all([headers, silent, body]);
    // headersTimeout 5 s, checked every second: closed between 5 and ~6 s (slack for a busy machine).
    expect(h.closedAfterMs).toBeGreaterThanOrEqual(4500);
    expect(h.closedAfterMs).toBeLessThan(8000);
    expect([0, 408]).toContain(h.status);
    expect(s.closedAfterMs).toBeLessThan(8000);
    // requestTimeout 10 s for the whole request, body included.
    expect(b.closedAfterMs).toBeGreaterThanOrEqual(9500);
    expect(b.closedAfterMs).toBeLessThan(13_000);
    expect([0, 408]).toContain(b.status);
  }, 30_000);
});

describe('afterwards', () => {
  it('the process is unharmed: healthy, and valid events still reach ClickHouse', async () => {
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
    const b = batch([EventBuilder.pageview('http://localhost/after/hostile')]);
    const r = await timedPost(JSON.stringify(b));
    expect(r).toMatchObject({ status: 202, body: { accepted: 1, rejected: [] } });
    expect(await p.waitForCount("SELECT count() n FROM events WHERE path = '/after/hostile'", 1)).toBe(1);
    // Nothing but the ClickHouse rows of valid events: no row came from a hostile request.
    const paths = await p.rows<{ path: string }>('SELECT DISTINCT path FROM events');
    for (const { path } of paths) expect(path.length).toBeLessThan(200);
  });
});
