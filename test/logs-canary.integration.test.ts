/**
 * Metrics and logs (issue 7, item 8). One full run of the all-in-one —
 * valid traffic, invalid and hostile requests, consent, bots, a rate-limit
 * refusal, a poisoned job, queries, shutdown — then:
 * - GET /metrics serves every promised series in Prometheus text format;
 * - the captured logs hold none of the canaries: client address, user agent,
 *   page URL and query, referrer, secrets and tokens.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSealKeyPair, Sealer } from '../src/queue/seal.js';
import { JOB_NAME, sealJob } from '../src/queue/job.js';
import { batch, EventBuilder } from './support/builders.js';
import { REDIS_URL, startTestPipeline, type TestPipeline } from './support/pipeline.js';

const CANARY_IP = '198.51.100.123';
const CANARY_IP6 = '2001:db8:cafe:beef::42';
const CANARY_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 CanaryUaBuild/4242';
const CANARY_PATH = '/checkout/canary.person@example.com/pay';
const CANARY_QUERY = 'canaryQueryValue';
const CANARY_REFERRER = 'https://canary-referrer.example/search?q=canaryref';
const RATE_SECRET = 'canary-rate-secret-0123456789';
const ANALYST_TOKEN = 'canary-analyst-token-0123456789';
const ADMIN_TOKEN = 'canary-admin-token-0123456789';
const keys = generateSealKeyPair();
let withinLimit = 0;
const rowsStored = () => 4 + 4 + 1 + withinLimit;

let p: TestPipeline | undefined;
let logs: string[] = [];
let metricsText = '';
let metricsType = '';
let ranFully = false;

beforeAll(async () => {
  p = await startTestPipeline({
    TRUST_PROXY: 'loopback',
    LOG_LEVEL: 'trace',
    QUEUE_HIGH_WATER: '1000000',
    RATE_LIMIT_SECRET: RATE_SECRET,
    RATE_LIMIT_PER_ADDRESS: '40',
    ANALYST_TOKEN,
    ADMIN_TOKEN,
    SEAL_PUBLIC_KEY: keys.publicKey,
    SEAL_PRIVATE_KEY: keys.privateKey,
  });
  logs = p.logs;
});
afterAll(async () => {
  await p?.close();
});

it('runs the whole pipeline through valid, invalid and hostile traffic, then stops', async () => {
  await fullRun(p!);
  const res = await fetch(`${p!.queryUrl}/metrics`);
  metricsType = res.headers.get('content-type') ?? '';
  metricsText = await res.text();
  // Shutdown is part of the run: its logs are scanned too.
  await p!.close();
  p = undefined;
  ranFully = true;
});

async function fullRun(p: TestPipeline): Promise<void> {
  const url = `http://localhost${CANARY_PATH}?utm_source=mail&secret=${CANARY_QUERY}#frag-${CANARY_QUERY}`;
  const visitor = { 'X-Forwarded-For': CANARY_IP, 'User-Agent': CANARY_UA, 'Accept-Language': 'de-CH' };
  // Valid traffic, IPv4 and IPv6, and one event invalid in a way that carries the canaries.
  const good = () => batch([
    EventBuilder.pageview(url).referrer(CANARY_REFERRER),
    EventBuilder.click(url),
    EventBuilder.engagement(url),
    EventBuilder.custom(url),
    EventBuilder.pageview(url).with({ id: `${CANARY_IP}-bad` }),
  ]);
  expect((await p.post(good(), visitor)).status).toBe(202);
  expect((await p.post(batch([EventBuilder.pageview(url)]), { ...visitor, 'X-Forwarded-For': CANARY_IP6 })).status).toBe(202);
  // A bot (dropped by the worker) and consent withdrawn (dropped at the collector).
  expect((await p.post(batch([EventBuilder.pageview(url)]), { ...visitor, 'User-Agent': 'Googlebot/2.1 (+http://www.google.com/bot.html) CanaryUaBuild/4242' })).status).toBe(202);
  expect((await p.post(batch([EventBuilder.pageview(url)]), { ...visitor, 'Sec-GPC': '1' })).status).toBe(202);
  // Refusals of every kind, each carrying canaries.
  expect((await p.post(`{"site":"demo","events":[${CANARY_IP}`, visitor)).status).toBe(400);
  expect((await p.post(JSON.stringify({ site: 'demo', events: [], pad: CANARY_QUERY.repeat(5000) }), visitor)).status).toBe(413);
  expect((await p.post(JSON.stringify(good()), { ...visitor, 'Content-Type': 'text/plain; charset=utf-7' })).status).toBe(415);
  expect((await p.post(batch([EventBuilder.pageview(`https://canary-foreign.example${CANARY_PATH}`)]), visitor)).status).toBe(403);
  expect((await p.post(good(), { ...visitor, 'X-Forwarded-For': 'garbage, ' + CANARY_IP })).status).toBe(202);
  // One rate-limit refusal: 41 requests in one window do it, and a window boundary in between only means a few more.
  let status = 0;
  for (let i = 0; i < 200 && status !== 429; i++) {
    status = (await p.post(batch([EventBuilder.pageview(url)]), { ...visitor, 'X-Forwarded-For': '198.51.100.124' })).status;
    if (status === 202) withinLimit++;
  }
  expect(status).toBe(429);
  // Queries: a wrong token, a refused one, an allowed one.
  const query = (sql: string, token: string) => fetch(`${p.queryUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: sql });
  expect((await query('SELECT 1', `${ADMIN_TOKEN}-wrong`)).status).toBe(401);
  expect((await query('SELECT count() FROM events', ANALYST_TOKEN)).status).toBe(400);
  expect((await query('SELECT count() FROM events', ADMIN_TOKEN)).status).toBe(200);
  // A poisoned job (sealed for another key) ends in the dead-letter queue; the worker logs it.
  const redis = new Redis(REDIS_URL);
  const queue = new Queue(p.app.config.redis.queueName, { connection: redis, prefix: p.prefix });
  const ctx = { site: 'demo', ip: CANARY_IP, userAgent: CANARY_UA, receivedAt: Date.now() };
  const job = await queue.add(JOB_NAME, sealJob(new Sealer(generateSealKeyPair().publicKey), [{ ctx, events: [EventBuilder.pageview(url).build()] }]));
  await expect.poll(async () => (await queue.getJob(job.id!))?.failedReason ?? '', { timeout: 20_000 }).toMatch(/cannot open job/);
  await queue.close();
  redis.disconnect();
  // Everything valid is stored before the logs and metrics are read: 4 + 4 valid events of `good` (sent twice),
  // 1 over IPv6, those within the rate limit; the bot's event is dropped by the worker.
  await expect.poll(async () => Number((await p.rows<{ n: string }>('SELECT count() n FROM events'))[0]!.n), { timeout: 20_000 }).toBe(rowsStored());
  // The producer samples the queue every 250 ms; let the failed job show.
  await new Promise((r) => setTimeout(r, 600));
}

function metric(name: string, labels = ''): number {
  const line = metricsText.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name}{`)));
  if (!line) throw new Error(`metric ${name}{${labels}} missing from /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('is Prometheus text format', () => {
    expect(metricsType).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const lines = metricsText.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(50);
    for (const l of lines) expect(l).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z0-9_]+="[^"\n]*"(,[a-zA-Z0-9_]+="[^"\n]*")*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/);
  });

  it('counts events accepted, rejected and dropped by reason', () => {
    expect(metric('anon_events_accepted_total')).toBe(rowsStored() + 1);
    expect(metric('anon_events_rejected_total', 'reason="id"')).toBeGreaterThanOrEqual(2);
    expect(metric('anon_events_dropped_total', 'reason="consent"')).toBe(1);
    expect(metric('anon_events_dropped_total', 'reason="bot"')).toBe(1);
    expect(metric('anon_collect_refused_requests_total', 'reason="bad_request"')).toBe(1);
    expect(metric('anon_collect_refused_requests_total', 'reason="too_large"')).toBe(1);
    expect(metric('anon_collect_refused_requests_total', 'reason="unsupported_media_type"')).toBe(1);
    expect(metric('anon_collect_refused_requests_total', 'reason="forbidden"')).toBe(1);
    expect(metric('anon_collect_refused_requests_total', 'reason="rate_limited_address"')).toBe(1);
  });

  it('has the request latency histogram', () => {
    expect(metric('anon_collect_request_seconds_count', 'status="202"')).toBeGreaterThanOrEqual(45);
    expect(metric('anon_collect_request_seconds_bucket', 'le="+Inf",status="429"')).toBe(1);
    expect(metric('anon_collect_request_seconds_sum', 'status="202"')).toBeGreaterThan(0);
  });

  it('reports the queue: waiting, active, failed, oldest waiting age, dead letters', () => {
    // Scraped after everything valid was stored and the poisoned job dead-lettered: the queue is empty but for
    // that one. (A backlog showing on these gauges, collector's and worker's, is checked by
    // test/faults/clickhouse-outage.integration.test.ts.)
    expect(metric('anon_queue_waiting_jobs')).toBe(0);
    expect(metric('anon_queue_active_jobs')).toBe(0);
    expect(metric('anon_queue_oldest_waiting_seconds')).toBe(0);
    expect(metric('anon_queue_failed_jobs')).toBe(1);
    expect(metric('anon_dead_letter_jobs')).toBe(1);
    expect(metric('anon_jobs_failed_total', 'final="true"')).toBe(1);
  });

  it('reports inserts: batch size, latency, rows', () => {
    expect(metric('anon_rows_inserted_total')).toBe(rowsStored());
    expect(metric('anon_insert_batch_rows_count')).toBeGreaterThanOrEqual(1);
    expect(metric('anon_insert_batch_rows_sum')).toBe(metric('anon_rows_inserted_total'));
    expect(metric('anon_insert_seconds_count')).toBe(metric('anon_insert_batch_rows_count'));
  });

  it('carries no visitor value in any label', () => {
    for (const canary of [CANARY_IP, '198.51.100', 'cafe:beef', 'CanaryUaBuild', 'canary.person', CANARY_QUERY, 'canary-referrer']) {
      expect(metricsText).not.toContain(canary);
    }
  });
});

describe('logs of the full run', () => {
  it('are structured JSON, and a real record of the run', () => {
    expect(ranFully).toBe(true);
    const lines = logs.join('').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(5);
    const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    const msgs = records.map((r) => r.msg).join('\n');
    expect(msgs).toMatch(/job moved to the dead-letter queue/);
    expect(msgs).toMatch(/query/);
    // Refusals are logged at debug level with their reason label (and nothing of the request).
    expect(records.filter((r) => r.msg === 'collect request refused').length).toBeGreaterThanOrEqual(5);
  });

  it('hold no address, user agent, URL, query, referrer, secret or token', () => {
    expect(ranFully).toBe(true);
    const text = logs.join('');
    const canaries = [
      CANARY_IP, '198.51.100.124', '198.51.100', CANARY_IP6, '2001:db8:cafe', 'CanaryUaBuild', 'Googlebot', 'AppleWebKit',
      'canary.person', CANARY_PATH, CANARY_QUERY, 'canary-referrer', 'canaryref', 'canary-foreign',
      RATE_SECRET, ANALYST_TOKEN, ADMIN_TOKEN, keys.privateKey, keys.publicKey, 'http://localhost/checkout',
    ];
    for (const c of canaries) expect(text, c).not.toContain(c);
  });

});
