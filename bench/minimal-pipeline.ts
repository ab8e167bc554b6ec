/**
 * The bar `npm run bench` holds the project to: a minimal pipeline of the same
 * stack, in one process like the all-in-one, with none of the project's work
 * that is not strictly needed to land a row:
 *   raw node:http (JSON.parse, nothing validated) → one BullMQ job per request
 *   (plain JSON, not sealed) → a BullMQ worker in the same process: per event
 *   ua-parser-js (cached), ipaddr.js /24 or /48, HMAC-SHA256 visitor id (no
 *   URL scrubbing, no bot check, no consent, no rate limit) → batched
 *   JSONCompactEachRow inserts into an 11-column MergeTree in the same embedded
 *   chDB, through the same raw insert → the job completes after its insert.
 * It answers 202 after Redis has the job, like the collector. GET /rows
 * answers the row count (for the benchmark's drain check).
 * Env: PORT, REDIS_URL, QUEUE_PREFIX, DATA_DIR.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import ipaddr from 'ipaddr.js';
import { Redis } from 'ioredis';
import UAParser from 'ua-parser-js';

const PORT = Number(process.env.PORT ?? 0);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = process.env.QUEUE_PREFIX ?? 'minimal';
const DATA_DIR = process.env.DATA_DIR ?? fs.mkdtempSync('/tmp/minimal-');
const BATCH_ROWS = 20_000;
const FLUSH_MS = 1000;

interface Job {
  ip: string;
  ua: string;
  events: { type: string; url: string; ts?: number }[];
}

fs.mkdirSync(path.join(DATA_DIR, 'clickhouse'), { recursive: true });
const connection = createChdbConnection({ path: path.join(DATA_DIR, 'clickhouse') });
const client = createClient({ connection: connection as never });
const raw = (connection as unknown as { chdb: { rawInsert(p: object): Promise<unknown> } }).chdb;
await client.command({
  query:
    'CREATE TABLE IF NOT EXISTS events (site LowCardinality(String), ts DateTime64(3), type LowCardinality(String), visitor_id UInt64, ' +
    'url String, ip_prefix String, browser LowCardinality(String), browser_major LowCardinality(String), os LowCardinality(String), ' +
    'device_type LowCardinality(String), language LowCardinality(String)) ENGINE = MergeTree ORDER BY (site, ts)',
});

const producer = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const queue = new Queue<Job>('events', { connection: producer, prefix: PREFIX, defaultJobOptions: { removeOnComplete: true, attempts: 3 } });
const salt = randomBytes(32);
const uaCache = new Map<string, [string, string, string, string]>();

function device(ua: string): [string, string, string, string] {
  let d = uaCache.get(ua);
  if (!d) {
    const r = new UAParser(ua).getResult();
    d = [r.browser.name ?? '', (r.browser.version ?? '').split('.')[0] ?? '', r.os.name ?? '', r.device.type ?? 'desktop'];
    if (uaCache.size > 10_000) uaCache.clear();
    uaCache.set(ua, d);
  }
  return d;
}

function truncate(ip: string): string {
  try {
    const a = ipaddr.parse(ip);
    const bits = a.kind() === 'ipv4' ? 24 : 48;
    const bytes = a.toByteArray().map((x, i) => (i < bits / 8 ? x : 0));
    return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
  } catch {
    return '';
  }
}

// The insert buffer: rows of many jobs, written once it holds BATCH_ROWS rows or FLUSH_MS after its first row.
let buffer: string[] = [];
let bufferRows = 0;
let waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
let timer: NodeJS.Timeout | undefined;
function flush(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  if (bufferRows === 0) return;
  const body = Buffer.from(buffer.join(''));
  const mine = waiters;
  buffer = [];
  bufferRows = 0;
  waiters = [];
  raw.rawInsert({ table: 'events', format: 'JSONCompactEachRow', values: body }).then(
    () => mine.forEach((w) => w.resolve()),
    (err: unknown) => mine.forEach((w) => w.reject(err)),
  );
}
function insert(lines: string, rows: number): Promise<void> {
  buffer.push(lines);
  bufferRows += rows;
  const p = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
  if (bufferRows >= BATCH_ROWS || waiters.length >= 64) flush();
  else timer ??= setTimeout(flush, FLUSH_MS);
  return p;
}

const worker = new Worker<Job>(
  'events',
  async (job) => {
    const { ip, ua, events } = job.data;
    const [browser, major, os, type] = device(ua);
    const prefix = truncate(ip);
    const visitor = createHmac('sha256', salt).update(`bench\u0000${ip}\u0000${ua}`).digest().readBigUInt64BE(0).toString();
    const ts = new Date().toISOString().replace('T', ' ').slice(0, 23);
    let lines = '';
    for (const e of events) lines += JSON.stringify(['bench', ts, e.type, visitor, e.url, prefix, browser, major, os, type, 'en']) + '\n';
    await insert(lines, events.length);
  },
  { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix: PREFIX, concurrency: 64 },
);
worker.on('error', () => {});

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return void res.writeHead(200).end('ok');
  if (req.method === 'GET' && req.url === '/rows') {
    void client
      .query({ query: 'SELECT count() AS n FROM events', format: 'JSONEachRow' })
      .then((r) => r.json<{ n: string }>())
      .then((r) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ n: Number(r[0]!.n) })));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: { events: Job['events'] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return void res.writeHead(400).end();
    }
    const ip = String(req.headers['x-forwarded-for'] ?? req.socket.remoteAddress ?? '');
    queue.add('c', { ip, ua: String(req.headers['user-agent'] ?? ''), events: body.events }).then(
      () => res.writeHead(202, { 'Content-Type': 'application/json' }).end(`{"accepted":${body.events.length},"rejected":[]}`),
      () => res.writeHead(503).end(),
    );
  });
});
server.listen(PORT, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void worker.close().then(async () => {
    flush();
    await queue.close();
    producer.disconnect();
    await client.close();
    process.exit(0);
  });
});
