/**
 * Per-event cost of each component, for the capacity model in docs/scaling.md:
 * `npx tsx bench/capacity.ts` (needs redis-server on PATH; nothing else).
 *
 * Measured as CPU time per event, not as a rate: on a shared 2-core machine a
 * wall-clock rate says as much about the neighbours as about the code, while
 * the CPU a process burns per event moves far less. Each run:
 *
 *   1. starts its own redis-server (AOF on, appendfsync everysec, as in
 *      production; a temporary directory), a collector and a worker (embedded
 *      ClickHouse) as real processes, with a fresh queue prefix;
 *   2. warm-up: the collector alone under load for a few seconds, so the jobs
 *      wait in Redis (used_memory per waiting event); then the worker starts
 *      and drains them;
 *   3. measured, for requests of 20, 5 and 1 events in turn: CAPACITY_SECONDS
 *      of load (20 events at CAPACITY_RATE requests/s, 5 at 2.5 times that, 1
 *      at CAPACITY_ONE_EVENT_RATE: below what this machine saturates at),
 *      until every event is a row; CPU of the collector and the worker
 *      (/proc/<pid>/stat: every thread, the embedded engine's included) and
 *      of Redis (INFO cpu) between the drained states before and after,
 *      divided by the events; jobs created (group commit: events per job);
 *   4. in this process: the same anonymised rows inserted into the embedded
 *      engine with the full schema, then with `events` alone (no
 *      materialised views: the difference is what the aggregates cost), and
 *      the daily rollup of those rows' day (process.cpuUsage, engine threads
 *      included, with a quiet second after each for the merges it started).
 *
 *   5. (CAPACITY_ONLY=batches, on its own) the same rows inserted into a
 *      fresh `events` in batches of CAPACITY_BATCHES rows (default 2,000,
 *      5,000, 10,000, 20,000 and 50,000): engine CPU per row, the insert and
 *      the merges it set off (until no merge runs), and the parts left: what
 *      INSERT_BATCH_ROWS is chosen from.
 *
 * Prints the medians of CAPACITY_RUNS runs (default 3) and writes every
 * figure to bench/results/capacity-<time>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { anonymiseRequest } from '../src/anonymise/pipeline.js';
import { createDeviceParser } from '../src/anonymise/device.js';
import type { AnonymiseConfig, EventRow } from '../src/anonymise/types.js';
import type { CollectedRequest } from '../src/wire/types.js';
import { openStore, type Store } from '../src/store/client.js';
import { EventInserter } from '../src/store/inserter.js';
import { migrate } from '../src/store/migrate.js';
import { rollupFinishedDays } from '../src/store/rollup.js';
import { aggregateNow, loadAggregates } from '../src/store/aggregator.js';
import { randomId } from '../test/support/builders.js';
import { startProcess, type Proc } from '../test/support/process.js';
import { freePort } from '../test/support/redis-server.js';
import { tempDir } from '../test/support/tmp.js';
import { bodyPool, loadTest } from './load.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.CAPACITY_RUNS ?? 3);
const SECONDS = Number(process.env.CAPACITY_SECONDS ?? 20);
const RATE = Number(process.env.CAPACITY_RATE ?? 400);
const ONE_EVENT_RATE = Number(process.env.CAPACITY_ONE_EVENT_RATE ?? 1500);
const STORE_EVENTS = Number(process.env.CAPACITY_STORE_EVENTS ?? 200_000);
/** `pipeline` or `store`: that part alone. */
const ONLY = process.env.CAPACITY_ONLY;
const SITE = 'bench';
const HOST = 'shop.bench';
const TICK = 100; // clock ticks per second of /proc/<pid>/stat (CLK_TCK on Linux)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`${s}\n`);

/** CPU seconds a process has used (user + system, every thread). */
function procCpu(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

/**
 * A process's CPU seconds by thread: `js` is the main thread (where all JavaScript runs); `other` is every
 * other thread: in a worker with the embedded ClickHouse, the engine's (chDB runs its queries on libuv's pool
 * and its own pools: inserts, merges), and V8's helpers (concurrent GC, compilation), which are no more than
 * a small share (a process without the engine shows it).
 */
function threadCpu(pid: number): { js: number; other: number } {
  const out = { js: 0, other: 0 };
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICK;
    if (tid === String(pid)) out.js += cpu;
    else out.other += cpu;
  }
  return out;
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return v('used_cpu_sys') + v('used_cpu_user');
}

async function startRedis(): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = tempDir('capacity-redis');
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const redis = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 50 });
  redis.on('error', () => {});
  for (let i = 0; i < 100; i++) {
    try {
      await redis.connect();
      break;
    } catch {
      await sleep(50);
    }
  }
  redis.disconnect();
  return { url: `redis://127.0.0.1:${port}`, proc, dir };
}

/** One measured load: requests of `eventsPerRequest` events at `rate` requests/s, drained into rows. */
interface LoadFigures {
  eventsPerRequest: number;
  rate: number;
  events: number;
  requests: number;
  jobs: number;
  seconds: number;
  collectorUsPerEvent: number;
  /** Of collectorUsPerEvent: the main thread's (a process saturates when this one reaches a core). */
  collectorMainUsPerEvent: number;
  workerUsPerEvent: number;
  /** Of workerUsPerEvent: the main (JavaScript) thread, and the rest (the embedded engine, GC helpers). Threads that ended during the load are in neither. */
  workerJsUsPerEvent: number;
  workerEngineUsPerEvent: number;
  redisUsPerEvent: number;
}

interface PipelineFigures {
  redisBytesPerWaitingEvent: number;
  loads: LoadFigures[];
}

/** Request sizes and rates measured: the tracker sends up to 25 events a request (10 or after 1 s), a beacon often 1. */
const LOADS = [
  { eventsPerRequest: 20, rate: RATE },
  { eventsPerRequest: 5, rate: Math.round(RATE * 2.5) },
  { eventsPerRequest: 1, rate: ONE_EVENT_RATE },
];

async function pipelineRun(): Promise<PipelineFigures> {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const dataDir = tempDir('capacity');
  const prefix = `cap${randomId(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
  const [port, workerPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    REDIS_URL: redisServer.url,
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    HOST: '127.0.0.1',
    TRUST_PROXY: 'loopback',
    SITES: JSON.stringify({ [SITE]: [HOST] }),
    LOG_LEVEL: 'warn',
    QUEUE_HIGH_WATER: '1000000',
  };
  const procs: Proc[] = [];
  const url = `http://127.0.0.1:${port}`;
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const token = () => (JSON.parse(fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8')) as { admin: string }).admin;
  const rows = async () => {
    const res = await fetch(`${workerUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${token()}` }, body: 'SELECT count() AS n FROM events' });
    return Number((JSON.parse((await res.text()).trim()) as { n: string }).n);
  };
  const jobsCreated = async () => Number((await redis.get(`${prefix}:events:id`)) ?? 0);
  let accepted = 0;
  const waitRows = async () => {
    const end = Date.now() + 300_000;
    let n = 0;
    while (Date.now() < end && (n = await rows()) < accepted) await sleep(200);
    if (n < accepted) throw new Error(`only ${n} of ${accepted} events became rows within 5 minutes`);
    await sleep(1000); // the inserts' merges and the queue's completions settle
  };
  // A fresh pool for every load: the load generator numbers page views from 0 each time, and the same body
  // with the same page-view id from the same client is a replay (stored once), not new events.
  const load = async (eventsPerRequest: number, rate: number, seconds: number) => {
    const r = await loadTest({ url: `${url}/collect`, bodies: bodyPool(SITE, HOST, eventsPerRequest, 400), seconds, connections: 16, rate });
    accepted += r.accepted * eventsPerRequest;
    return r;
  };
  try {
    const collector = await startProcess('src/app/collector-main.ts', env, `${url}/healthz`, 120_000);
    procs.push(collector);
    // Warm-up with the collector alone: the jobs wait in Redis, which says what a waiting event costs in memory.
    const mem = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const mem0 = await mem();
    await load(20, RATE, 5);
    const redisBytesPerWaitingEvent = ((await mem()) - mem0) / accepted;
    const worker = await startProcess('workers/anonymiser.ts', env, `${workerUrl}/healthz`, 120_000);
    procs.push(worker);
    await waitRows();

    const loads: LoadFigures[] = [];
    for (const { eventsPerRequest, rate } of LOADS) {
      // From one drained state to the next: every CPU second spent on these events, merges included.
      const c0 = procCpu(collector.child.pid!);
      const w0 = procCpu(worker.child.pid!);
      const wt0 = threadCpu(worker.child.pid!);
      const ct0 = threadCpu(collector.child.pid!);
      const r0 = await redisCpu(redis);
      const j0 = await jobsCreated();
      const t0 = Date.now();
      const r = await load(eventsPerRequest, rate, SECONDS);
      await waitRows();
      const events = r.accepted * eventsPerRequest;
      const us = (cpu: number) => (cpu * 1e6) / events;
      const wt1 = threadCpu(worker.child.pid!);
      const ct1 = threadCpu(collector.child.pid!);
      loads.push({
        eventsPerRequest,
        rate,
        events,
        requests: r.accepted,
        jobs: (await jobsCreated()) - j0,
        seconds: (Date.now() - t0) / 1000,
        collectorUsPerEvent: us(procCpu(collector.child.pid!) - c0),
        collectorMainUsPerEvent: us(ct1.js - ct0.js),
        workerUsPerEvent: us(procCpu(worker.child.pid!) - w0),
        workerJsUsPerEvent: us(wt1.js - wt0.js),
        workerEngineUsPerEvent: us(wt1.other - wt0.other),
        redisUsPerEvent: us((await redisCpu(redis)) - r0),
      });
    }
    return { redisBytesPerWaitingEvent, loads };
  } finally {
    for (const p of procs) await p.stop('SIGTERM');
    redis.disconnect();
    redisServer.proc.kill('SIGKILL');
    fs.rmSync(redisServer.dir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

interface StoreFigures {
  rows: number;
  insertEventsOnlyUsPerEvent: number;
  insertEventsOnlyRowsPerSecond: number;
  aggregationUsPerEvent: number;
  aggregationMsPer100k: number;
  insertWithViewsUsPerEvent: number;
  insertWithViewsRowsPerSecond: number;
  rollupUsPerEvent: number;
}

function anonymisedRows(n: number, receivedAt: number): EventRow[] {
  const config: AnonymiseConfig = { ipv4Prefix: 24, ipv6Prefix: 48, sites: { [SITE]: [HOST] }, queryAllowlist: [] };
  const device = createDeviceParser({ cacheSize: 10_000 });
  const salt = randomBytes(32);
  const pool = bodyPool(SITE, HOST, 20, 400);
  const out: EventRow[] = [];
  for (let i = 0; out.length < n; i++) {
    const e = pool[i % pool.length]!;
    const events = (JSON.parse(e.parts.join(`pv${i.toString(36).padStart(10, '0')}`)) as { events: CollectedRequest['events'] }).events;
    const req: CollectedRequest = { ctx: { site: SITE, ip: e.headers['x-forwarded-for']!, userAgent: e.headers['user-agent']!, receivedAt }, events };
    out.push(...anonymiseRequest(req, salt, { config, device }).rows);
  }
  return out.slice(0, n);
}

/** CPU seconds of this process (every thread: the embedded engine's too) while `fn` runs, plus a quiet second after. */
async function cpuOf(fn: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await fn();
  await sleep(1000);
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1e6;
}

async function insertAll(store: Store, rows: EventRow[], tag: string, batch = 20_000): Promise<void> {
  const inserter = new EventInserter(store.client, { batchRows: batch, flushMs: 50, rawInsert: store.rawInsert });
  const pending: Promise<void>[] = [];
  for (let i = 0; i < rows.length; i += batch) pending.push(inserter.add(rows.slice(i, i + batch), `${tag}-${i}`));
  await Promise.all(pending);
}

interface BatchFigures {
  batchRows: number;
  /** Engine and process CPU per row: the inserts and every merge they set off. */
  usPerRow: number;
  rowsPerSecond: number;
  /** Active parts of `events` once the merges stopped. */
  partsLeft: number;
}

/** Waits until no merge runs (at most 60 s), then 200 ms more for what a last merge leaves. */
async function mergesDone(store: Store): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const rs = await store.client.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' });
    if (Number((await rs.json<{ n: string }>())[0]?.n ?? 0) === 0) break;
    await sleep(100);
  }
  await sleep(200);
}

/** Step 5 of the header: one fresh store, `events` emptied between batch sizes. */
async function batchRun(sizes: number[]): Promise<BatchFigures[]> {
  const rows = anonymisedRows(STORE_EVENTS, Date.now());
  const dir = tempDir('capacity-batches');
  const store = await openStore({ dataDir: dir, url: undefined, database: 'default', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  const out: BatchFigures[] = [];
  try {
    await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
    for (const size of sizes) {
      await store.client.command({ query: 'TRUNCATE TABLE events' });
      await sleep(500);
      const before = process.cpuUsage();
      const t0 = performance.now();
      await insertAll(store, rows, `batch-${size}`, size);
      const wallMs = performance.now() - t0;
      await mergesDone(store);
      const d = process.cpuUsage(before);
      const rs = await store.client.query({ query: "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active", format: 'JSONEachRow' });
      out.push({
        batchRows: size,
        usPerRow: (d.user + d.system) / rows.length,
        rowsPerSecond: Math.round(rows.length / (wallMs / 1000)),
        partsLeft: Number((await rs.json<{ n: string }>())[0]?.n ?? 0),
      });
      log(`capacity: batches of ${size}: ${JSON.stringify(out[out.length - 1])}`);
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function storeRun(): Promise<StoreFigures> {
  // Three days ago: a finished day the rollup takes.
  const rows = anonymisedRows(STORE_EVENTS, Date.now() - 3 * 86_400_000);
  const vars = { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 };
  const open = async () => {
    const dir = tempDir('capacity-store');
    const store = await openStore({ dataDir: dir, url: undefined, database: 'default', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
    await migrate(store.client, vars);
    return { store, dir };
  };
  // One embedded engine per process: one store. The insert writes `events` only; the aggregates are the
  // background aggregation's run over those rows (src/store/aggregator.ts). For comparison, the same aggregates
  // as materialised views (the design before issue 15: each SELECT of schemas/aggregates.sql on events).
  const { store, dir } = await open();
  let insertEvents: number;
  let insertEventsWallMs: number;
  let aggregation: number;
  let aggregationWallMs: number;
  let rollup: number;
  let insertViews: number;
  let insertViewsWallMs: number;
  try {
    let t0 = performance.now();
    insertEvents = await cpuOf(() => insertAll(store, rows, 'events').then(() => void (insertEventsWallMs = performance.now() - t0)));
    t0 = performance.now();
    aggregation = await cpuOf(() => aggregateNow(store.client).then(() => void (aggregationWallMs = performance.now() - t0)));
    rollup = await cpuOf(() => rollupFinishedDays(store.client, new Date()));
    await store.client.command({ query: 'TRUNCATE TABLE events' });
    for (const a of loadAggregates()) {
      const select = a.sql.slice(a.sql.search(/\bSELECT\b/i)).replace(/\bagg_staging\b/g, 'events');
      await store.client.command({ query: `CREATE MATERIALIZED VIEW bench_mv_${a.table} TO ${a.table} AS ${select}` });
    }
    t0 = performance.now();
    insertViews = await cpuOf(() => insertAll(store, rows, 'views').then(() => void (insertViewsWallMs = performance.now() - t0)));
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const us = (s: number) => (s * 1e6) / rows.length;
  return {
    rows: rows.length,
    insertEventsOnlyUsPerEvent: us(insertEvents),
    insertEventsOnlyRowsPerSecond: Math.round(rows.length / (insertEventsWallMs! / 1000)),
    aggregationUsPerEvent: us(aggregation),
    aggregationMsPer100k: Math.round((aggregationWallMs! * 100_000) / rows.length),
    insertWithViewsUsPerEvent: us(insertViews),
    insertWithViewsRowsPerSecond: Math.round(rows.length / (insertViewsWallMs! / 1000)),
    rollupUsPerEvent: us(rollup),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Writes `{ summary, ...detail }` to bench/results/<name>-<time>.json and prints the summary. */
function writeResults(name: string, summary: unknown, detail: Record<string, unknown>): void {
  const out = path.join(ROOT, 'bench/results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ summary, ...detail }, null, 2));
  console.log(JSON.stringify(summary, null, 2));
  log(`capacity: every figure in ${path.relative(ROOT, out)}`);
}

if (ONLY === 'batches') {
  const sizes = (process.env.CAPACITY_BATCHES ?? '2000,5000,10000,20000,50000').split(',').map(Number);
  const runs: BatchFigures[][] = [];
  for (let i = 0; i < RUNS; i++) {
    log(`capacity: run ${i + 1}/${RUNS}: ${STORE_EVENTS} rows in batches of ${sizes.join(', ')}`);
    runs.push(await batchRun(sizes));
  }
  const summary = sizes.map((batchRows, j) => ({
    batchRows,
    usPerRow: Math.round(median(runs.map((r) => r[j]!.usPerRow)) * 10) / 10,
    rowsPerSecond: Math.round(median(runs.map((r) => r[j]!.rowsPerSecond))),
    partsLeft: median(runs.map((r) => r[j]!.partsLeft)),
  }));
  writeResults('capacity-batches', summary, { runs });
  process.exit(0);
}

const pipelines: PipelineFigures[] = [];
const stores: StoreFigures[] = [];
for (let i = 0; i < RUNS; i++) {
  if (ONLY !== 'store') {
    log(`capacity: run ${i + 1}/${RUNS}: pipeline (${SECONDS} s each of 20-, 5- and 1-event requests)`);
    pipelines.push(await pipelineRun());
    log(JSON.stringify(pipelines[pipelines.length - 1]));
  }
  if (ONLY !== 'pipeline') {
    log(`capacity: run ${i + 1}/${RUNS}: store (${STORE_EVENTS} rows)`);
    stores.push(await storeRun());
    log(JSON.stringify(stores[stores.length - 1]));
  }
}
const med = <T>(xs: T[], f: (x: T) => number) => (xs.length ? Math.round(median(xs.map(f)) * 100) / 100 : null);
const byLoad = LOADS.map(({ eventsPerRequest, rate }) => {
  const ls = pipelines.map((p) => p.loads.find((l) => l.eventsPerRequest === eventsPerRequest)!);
  return {
    eventsPerRequest,
    rateRequestsPerSecond: rate,
    eventsPerJob: med(ls, (l) => l.events / Math.max(1, l.jobs)),
    collectorUsPerEvent: med(ls, (l) => l.collectorUsPerEvent),
    collectorMainUsPerEvent: med(ls, (l) => l.collectorMainUsPerEvent),
    redisUsPerEvent: med(ls, (l) => l.redisUsPerEvent),
    workerUsPerEventWithEmbeddedClickHouse: med(ls, (l) => l.workerUsPerEvent),
    workerJsUsPerEvent: med(ls, (l) => l.workerJsUsPerEvent),
    workerEngineUsPerEvent: med(ls, (l) => l.workerEngineUsPerEvent),
  };
});
const summary = {
  runs: RUNS,
  seconds: SECONDS,
  pipeline: pipelines.length ? byLoad : null,
  redisBytesPerWaitingEvent: med(pipelines, (p) => p.redisBytesPerWaitingEvent),
  clickhouseInsertUsPerEvent: med(stores, (s) => s.insertEventsOnlyUsPerEvent),
  clickhouseInsertRowsPerSecond: med(stores, (s) => s.insertEventsOnlyRowsPerSecond),
  aggregationUsPerEvent: med(stores, (s) => s.aggregationUsPerEvent),
  aggregationMsPer100k: med(stores, (s) => s.aggregationMsPer100k),
  insertWithViewsUsPerEvent: med(stores, (s) => s.insertWithViewsUsPerEvent),
  insertWithViewsRowsPerSecond: med(stores, (s) => s.insertWithViewsRowsPerSecond),
  rollupUsPerEvent: med(stores, (s) => s.rollupUsPerEvent),
};
writeResults('capacity', summary, { pipelines, stores });
