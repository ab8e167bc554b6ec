/**
 * The foundation end to end: a v1 batch through the real collector, real
 * Redis, the worker and the embedded ClickHouse; every answer of docs/design.md §4.3;
 * nothing readable in Redis; the query endpoint's access rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { batch, EventBuilder, mixedBatch } from './support/builders.js';
import { REDIS_URL, startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { generateSealKeyPair, Sealer } from '../src/queue/seal.js';
import { JOB_NAME, sealJob } from '../src/queue/job.js';

const CANARY_IP = '203.0.113.77';
const CANARY_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36 CanaryBrowserBuild/987654';
const CANARY_PATH = '/checkout/jane.doe@example.com/confirm';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ TRUST_PROXY: 'loopback', QUEUE_HIGH_WATER: '1000000' });
});
afterAll(async () => {
  await p?.close();
});

describe('a v1 batch becomes anonymised rows', () => {
  it('answers 202 and stores anonymised rows only', async () => {
    const b = batch([
      EventBuilder.pageview(`http://localhost${CANARY_PATH}?utm_source=mail&secret=xyz#frag`).referrer('https://www.google.com/search?q=jane'),
      EventBuilder.click('http://localhost/products/usb-c-65w'),
      EventBuilder.engagement('http://localhost/products/usb-c-65w'),
      EventBuilder.custom('http://localhost/cart'),
    ]);
    const res = await p.post(b, { 'X-Forwarded-For': CANARY_IP, 'User-Agent': CANARY_UA, 'Accept-Language': 'de-CH,de;q=0.9' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 4, rejected: [] });
    expect(await p.waitForCount('SELECT count() n FROM events', 4)).toBe(4);

    const rows = await p.rows<Record<string, unknown>>('SELECT * FROM events ORDER BY type');
    const pv = rows.find((r) => r.type === 'pageview')!;
    expect(pv.ip_prefix).toBe('203.0.113.0/24');
    expect(pv.path).toBe('/checkout/:email/confirm');
    expect(pv.utm_source).toBe('mail');
    expect(pv.query).not.toContain('secret');
    expect(pv.referrer_host).toBe('google.com');
    expect(pv.browser).toBe('Chrome');
    expect(pv.device_type).toBe('desktop');
    const click = rows.find((r) => r.type === 'click')!;
    expect(click.click_label).toBe('add-to-cart');
    expect(click.click_x).toBeCloseTo(0.42);
    const eng = rows.find((r) => r.type === 'engagement')!;
    expect(eng.visible_ms).toBe(27000);
    expect(eng.scroll_depth).toBe(80);
    // One visitor: every event of the request shares the daily visitor id.
    expect(new Set(rows.map((r) => r.visitor_id)).size).toBe(1);

    const everything = JSON.stringify(rows);
    for (const canary of [CANARY_IP, 'CanaryBrowserBuild', '6778.86', 'jane.doe', 'q=jane', b.events[0]!.id, b.events[0]!.pageview_id]) {
      expect(everything).not.toContain(canary);
    }
  });

  it('leaves nothing readable in Redis, failed jobs included, nor in the logs', async () => {
    // A job the worker cannot open (sealed for another key) ends in the failed set, still sealed.
    const redis = new Redis(REDIS_URL);
    const queue = new Queue(p.app.config.redis.queueName, { connection: redis, prefix: p.prefix });
    const foreign = new Sealer(generateSealKeyPair().publicKey);
    const ctx = { site: 'demo', ip: CANARY_IP, userAgent: CANARY_UA, receivedAt: Date.now() };
    const job = await queue.add(JOB_NAME, sealJob(foreign, [{ ctx, events: [EventBuilder.pageview(`http://localhost${CANARY_PATH}`).build()] }]));
    await expect.poll(async () => (await queue.getJob(job.id!))?.failedReason ?? '', { timeout: 15_000 }).toMatch(/cannot open job/);

    // Jobs still waiting are sealed too: with the queue paused the worker takes nothing, so the job is certainly there.
    await queue.pause();
    await p.post(batch([EventBuilder.pageview(`http://localhost${CANARY_PATH}`)]), { 'X-Forwarded-For': CANARY_IP, 'User-Agent': CANARY_UA });
    const dump = await p.redisDump();
    await queue.resume();
    expect(dump).toContain(':failed');
    // Both job hashes, the failed one and the waiting one, hold their requests only as the sealed envelope "s" (base64).
    const sealedJobs = dump.split('\n').flatMap((line) => {
      const m = /^(\S+) hash (.*)$/.exec(line);
      const data = m ? (JSON.parse(JSON.parse(m[2]!).data ?? 'null') as { s?: unknown } | null) : null;
      return typeof data?.s === 'string' && /^[A-Za-z0-9+/]{100,}={0,2}$/.test(data.s) ? [m![1]!] : [];
    });
    expect(sealedJobs).toHaveLength(2);
    expect(sealedJobs).toContain(`${p.prefix}:${p.app.config.redis.queueName}:${job.id}`);
    for (const canary of [CANARY_IP, '203.0.113', 'CanaryBrowserBuild', 'jane.doe', 'localhost/checkout', 'Mozilla']) {
      expect(dump).not.toContain(canary);
    }
    const logs = p.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const canary of [CANARY_IP, 'CanaryBrowserBuild', 'jane.doe']) expect(logs).not.toContain(canary);
    await queue.close();
    redis.disconnect();
  });
});

describe('every answer of wire format v1', () => {
  const pv = () => batch([EventBuilder.pageview()]);

  it('202 with per-event rejections, valid events kept', async () => {
    const b = batch([EventBuilder.pageview(), EventBuilder.pageview().with({ id: 'x' })]);
    const res = await p.post(b);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual([{ index: 1, reason: 'id: must be 8–64 of [A-Za-z0-9_-]' }]);
  });

  it('202 dropped:consent for Sec-GPC and DNT, and nothing is queued', async () => {
    for (const h of [{ 'Sec-GPC': '1' }, { DNT: '1' }] as Record<string, string>[]) {
      const res = await p.post(pv(), h);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 0, dropped: 'consent' });
    }
  });

  it('400 for bodies that are not a batch', async () => {
    expect(await p.post('not json')).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } });
    expect(await p.post('')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/empty/) } });
    expect(await p.post({ events: [] })).toMatchObject({ status: 400, body: { error: '"site" is required' } });
    expect(await p.post({ site: 'demo', events: [] })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/non-empty/) } });
    expect(await p.post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toMatchObject({ status: 400, body: { error: 'body is not valid UTF-8' } });
    expect(await p.post('['.repeat(60_000))).toMatchObject({ status: 400 });
  });

  it('403 for an unknown site or a foreign page host', async () => {
    expect(await p.post(batch([EventBuilder.pageview()], 'other'))).toMatchObject({ status: 403, body: { error: 'unknown site "other"' } });
    expect(await p.post(batch([EventBuilder.pageview('https://evil.example/')]))).toMatchObject({ status: 403 });
  });

  it('413 for bodies over 64 KiB, declared or not', async () => {
    const big = JSON.stringify({ site: 'demo', events: [], pad: 'x'.repeat(70_000) });
    expect(await p.post(big)).toMatchObject({ status: 413, body: { error: expect.stringMatching(/larger than 65536/) } });
    // Chunked (no Content-Length): the cap applies while reading.
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res = await fetch(`${p.url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('415 for other content types, charsets and encodings', async () => {
    const body = JSON.stringify(pv());
    expect(await p.post(body, { 'Content-Type': 'application/x-www-form-urlencoded' })).toMatchObject({ status: 415 });
    expect(await p.post(body, { 'Content-Type': 'text/plain; charset=utf-7' })).toMatchObject({ status: 415, body: { error: 'charset must be utf-8' } });
    expect((await p.post(body, { 'Content-Type': 'application/json; charset=UTF-8' })).status).toBe(202);
    expect(await p.post(gzipSync(body), { 'Content-Encoding': 'gzip' })).toMatchObject({ status: 415, body: { error: expect.stringMatching(/Content-Encoding/) } });
  });

  it('405 for other methods, 404 JSON elsewhere', async () => {
    const get = await fetch(`${p.url}/collect`);
    expect(get.status).toBe(405);
    const nf = await fetch(`${p.url}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: 'not found' });
  });

  it('ignores X-Forwarded-For it does not trust and refuses invalid forwarded values', async () => {
    const before = Number((await p.rows<{ n: string }>("SELECT count() n FROM events WHERE ip_prefix = ''"))[0]!.n);
    const res = await p.post(mixedBatch(3), { 'X-Forwarded-For': '0xc0.168.1.1' });
    expect(res.status).toBe(202);
    expect(await p.waitForCount("SELECT count() n FROM events WHERE ip_prefix = ''", before + 3)).toBe(before + 3);
  });
});

describe('health and query endpoints', () => {
  it('reports liveness and readiness with queue progress', async () => {
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
    const r = await fetch(`${p.url}/readyz`);
    const body = (await r.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(r.status).toBe(200);
    expect(body.checks.redis!.ok).toBe(true);
    expect(body.checks.queue).toMatchObject({ ok: true, oldestWaitingAgeMs: expect.any(Number) });
    expect(body.checks.store).toMatchObject({ ok: true, embedded: true });
  });

  const query = (sql: string, token: string | undefined, format = 'JSONEachRow') =>
    fetch(`${p.queryUrl}/query?format=${format}`, { method: 'POST', headers: token ? { Authorization: `Bearer ${token}` } : {}, body: sql });

  it('serves read-only SQL with the admin token', async () => {
    const r = await query('SELECT count() AS n FROM events', p.app.tokens.admin);
    expect(r.status).toBe(200);
    expect(Number(JSON.parse((await r.text()).trim()).n)).toBeGreaterThan(0);
    const csv = await query('SELECT 1 AS a, 2 AS b', p.app.tokens.admin, 'CSV');
    expect(await csv.text()).toBe('1,2\n');
  });

  it('refuses writes, DDL and table functions even to the admin', async () => {
    const refused = [
      'INSERT INTO events (site) VALUES (\'x\')',
      'DROP TABLE events',
      'CREATE TABLE x (a UInt8) ENGINE=Memory',
      'SET readonly = 0',
      'SELECT 1 SETTINGS readonly=0',
      // A SETTINGS clause in a subquery would override the outer readonly for that subquery.
      'SELECT * FROM (SELECT 1 SETTINGS readonly=0)',
      // chdb runs every statement of a multi-statement text: the second one must never reach it.
      'SELECT 1 AS one; DROP TABLE events',
      `SELECT 'x' AS admin INTO OUTFILE '${p.dataDir}/tokens.json' TRUNCATE`,
    ];
    for (const sql of refused) {
      const r = await query(sql, p.app.tokens.admin);
      expect(r.status, sql).toBe(400);
      expect(((await r.json()) as { error: string }).error, sql).toMatch(/readonly|only SELECT|SETTINGS|one statement/i);
    }
    // Reading host files (the environment holds the secrets) is refused to every token, readonly or not.
    for (const sql of ["SELECT * FROM file('/etc/passwd')", "SELECT file('/proc/self/environ') AS env"]) {
      const r = await query(sql, p.app.tokens.admin);
      expect(r.status, sql).toBe(400);
      expect(((await r.json()) as { error: string }).error, sql).toMatch(/outside the database/);
    }
    // A trailing comment must not swallow the readonly clause.
    const commented = await query('SELECT getSetting(\'readonly\') AS r -- trailing comment', p.app.tokens.admin);
    expect(Number(JSON.parse((await commented.text()).trim()).r)).toBe(1);
    expect(Number((await p.rows<{ n: string }>("SELECT count() n FROM system.tables WHERE database = currentDatabase() AND name = 'events'"))[0]!.n)).toBe(1);
  });

  it('leaves the engine writable after read-only queries (readonly is scoped to the query)', async () => {
    // The embedded connection once turned per-query settings into session-wide SETs: one analyst query made
    // every later insert of the worker fail. Query, then ingest, then see the new rows.
    expect((await query('SELECT count() AS n FROM events', p.app.tokens.admin)).status).toBe(200);
    const before = Number((await p.rows<{ n: string }>('SELECT count() n FROM events'))[0]!.n);
    const b = mixedBatch(4);
    expect((await p.post(b)).status).toBe(202);
    expect(await p.waitForCount('SELECT count() n FROM events', before + 4)).toBe(before + 4);
  });

  it('limits analysts to the analyst views and needs a token', async () => {
    expect((await query('SELECT 1', undefined)).status).toBe(401);
    expect((await query('SELECT 1', 'wrong-token-wrong-token')).status).toBe(401);
    // Every refusal of an analyst query is the same answer (test/analyst-boundary.integration.test.ts has the attacks).
    const r = await query('SELECT count() FROM events', p.app.tokens.analyst);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/refused or failed/);
    const sub = await query('SELECT 1 WHERE 1 IN (SELECT 1 FROM system.query_log)', p.app.tokens.analyst);
    expect(sub.status).toBe(400);
    // Text that only looks like a CTE (in a comment or a string) does not make `events` readable.
    for (const sql of ['SELECT path FROM events -- events AS (', "SELECT path FROM events WHERE 'events AS (' != ''", 'WITH events AS (SELECT 1) SELECT path FROM default.events']) {
      expect((await query(sql, p.app.tokens.analyst)).status, sql).toBe(400);
    }
    expect((await query('SELECT 1 AS one', p.app.tokens.analyst)).status).toBe(200);
  });
});
