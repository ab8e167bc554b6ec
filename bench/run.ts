/**
 * `npm run bench`: the throughput benchmark (see bench/README.md).
 *
 * Runs, in one go and on one machine: the collector floor (a bare node:http
 * server that reads and JSON-parses the same bodies), the CPU floor (the
 * anonymisation steps alone, one core), the pipeline (all-in-one on the
 * embedded ClickHouse by default) under 20-event and 1-event requests, and
 * the storage floor (a direct batched insert of the same anonymised rows).
 * Every pipeline run checks rows in ClickHouse = events accepted. Last, the
 * comparison: the project and a minimal pipeline of the same stack
 * (bench/minimal-pipeline.ts) under the same load, in turn, BENCH_RUNS times,
 * reported as ratios (medians when BENCH_RUNS > 1).
 *
 * Environment: BENCH_SECONDS (pipeline phase, default 60), BENCH_FLOOR_SECONDS
 * (default 10), BENCH_CONNECTIONS (default 32), BENCH_MODE=all-in-one|split
 * (split = separate collector and BENCH_WORKERS worker processes),
 * BENCH_RUNS (comparison pairs, default 1), BENCH_COMPARE_SECONDS (default 20),
 * BENCH_COMPARE_CONNECTIONS (default 40), BENCH_ONE_EVENT_CONNECTIONS (1-event
 * phase and its floor, default 128), BENCH_ONLY=compare|one-event|half (that
 * phase alone), CLICKHOUSE_URL (server mode), REDIS_URL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { randomId } from '../test/support/builders.js';
import { freePort } from '../test/support/redis-server.js';
import { startProcess, type Proc } from '../test/support/process.js';
import { tempDir } from '../test/support/tmp.js';
import { deleteKeys } from '../test/support/redis-keys.js';
import { bodyPool, loadTest, type LoadResult } from './load.js';
import { anonymiseFloor, storageFloor } from './floors.js';
import { comparisonTable, markdownTable, summariseComparison, type BenchResult, type ComparisonPair, type ComparisonSide } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const FLOOR_SECONDS = Number(process.env.BENCH_FLOOR_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const MODE = process.env.BENCH_MODE === 'split' ? 'split' : 'all-in-one';
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 1));
const COMPARE_SECONDS = Number(process.env.BENCH_COMPARE_SECONDS ?? 20);
const COMPARE_CONNECTIONS = Number(process.env.BENCH_COMPARE_CONNECTIONS ?? 40);
/**
 * Connections of the 1-event phase and its floor. Each beacon comes from a browser of its own, so arrivals do not
 * wait for answers; a generator with few connections does wait, and cannot pass connections ÷ latency: at 32
 * connections and the group commit's 6-8 ms it measured latency, not capacity (here, same code, 3,200-4,300 req/s
 * at 32 connections, 5,500-6,200 at 128 and 256).
 */
const ONE_EVENT_CONNECTIONS = Number(process.env.BENCH_ONE_EVENT_CONNECTIONS ?? 128);
/** Pipeline settings passed on to the project's processes when set in the bench's environment (for before/after pairs). */
const PASSED_ON = [
  'COLLECTOR_THREAD',
  'GROUP_COMMIT_MS',
  'GROUP_COMMIT_MAX_EVENTS',
  'RATE_LIMIT_WINDOW_MS',
  'RATE_LIMIT_PER_ADDRESS',
  'RATE_LIMIT_PER_SITE',
  'INSERT_BATCH_ROWS',
  'INSERT_FLUSH_MS',
  'WORKER_CONCURRENCY',
  'AGGREGATE_EVERY_MS',
  // glibc's, not the project's: how many malloc arenas the process's threads share (npm start and npm run worker
  // set 2; test/support/process.ts starts entries with their npm script's variables).
  'MALLOC_ARENA_MAX',
];
const SITE = 'bench';
const HOST = 'shop.bench';

function progress(line: string): void {
  process.stderr.write(`\r\x1b[K${line}`);
}

function peakRssMb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system, every thread) the process has used so far; 0 when it cannot be read. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime, stime are 12th, 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface Pipeline {
  url: string;
  procs: Proc[];
  /** Rows in ClickHouse and distinct event ids. */
  rows(): Promise<{ n: number; u: number }>;
  /** Jobs waiting in the queue (-1 when it cannot be read). */
  waiting(): Promise<number>;
  /** Event-loop delay of each thread over the last 10 s window (from /metrics), when the process reports it. */
  loopDelay?(): Promise<LoopDelays>;
  /** The collector's own latency of accepted requests: the share above each bucket bound (anon_collect_request_seconds). */
  serverLatency?(): Promise<ServerLatency>;
  /** Seconds between now and the newest event time the aggregates include (v_freshness); null before the first. */
  aggregateLag?(): Promise<number | null>;
  stop(): Promise<void>;
}

async function startPipeline(dataDir: string, prefix: string): Promise<Pipeline> {
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL,
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    TRUST_PROXY: 'loopback',
    SITES: JSON.stringify({ [SITE]: [HOST] }),
    LOG_LEVEL: 'warn',
    QUEUE_HIGH_WATER: '1000000',
    ...(process.env.CLICKHOUSE_URL ? { CLICKHOUSE_URL: process.env.CLICKHOUSE_URL } : {}),
    ...Object.fromEntries(PASSED_ON.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
  };
  const url = `http://127.0.0.1:${port}`;
  const queryPort = await freePort();
  env.QUERY_PORT = String(queryPort);
  const queryUrl0 = `http://127.0.0.1:${queryPort}`;
  const tokens = () => (JSON.parse(fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8')) as { admin: string }).admin;
  if (MODE === 'all-in-one') {
    const p = await startProcess('src/app/all-in-one-main.ts', env, `${url}/healthz`, 120_000);
    return {
      url,
      procs: [p],
      rows: () => countRows(queryUrl0, tokens()),
      waiting: () => queueWaiting(url),
      loopDelay: () => loopDelays(queryUrl0),
      serverLatency: () => serverLatency(queryUrl0),
      aggregateLag: () => aggregateLag(queryUrl0, tokens()),
      stop: async () => void (await p.stop('SIGTERM')),
    };
  }
  const collector = await startProcess('src/app/collector-main.ts', env, `${url}/healthz`, 120_000);
  const workers: Proc[] = [];
  let queryUrl = url;
  for (let i = 0; i < WORKERS; i++) {
    const wp = await freePort();
    // In embedded mode only one process may own the data directory: extra workers need CLICKHOUSE_URL.
    if (i > 0 && !process.env.CLICKHOUSE_URL) throw new Error('BENCH_WORKERS > 1 needs CLICKHOUSE_URL (one process per embedded data directory)');
    workers.push(await startProcess('workers/anonymiser.ts', { ...env, WORKER_PORT: String(wp) }, `http://127.0.0.1:${wp}/healthz`, 120_000));
    if (i === 0) queryUrl = `http://127.0.0.1:${wp}`;
  }
  return {
    url,
    procs: [collector, ...workers],
    rows: () => countRows(queryUrl, tokens()),
    waiting: () => queueWaiting(url),
    aggregateLag: () => aggregateLag(queryUrl, tokens()),
    async stop() {
      await collector.stop('SIGTERM');
      for (const w of workers) await w.stop('SIGTERM');
    },
  };
}

/** The minimal pipeline (bench/minimal-pipeline.ts): the same load, Redis and chDB, none of the project's checks. */
async function startMinimal(dataDir: string, prefix: string): Promise<Pipeline> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = await startProcess('bench/minimal-pipeline.ts', { REDIS_URL, DATA_DIR: dataDir, QUEUE_PREFIX: prefix, PORT: String(port) }, `${url}/healthz`, 120_000);
  const redis = new Redis(REDIS_URL);
  return {
    url,
    procs: [p],
    async rows() {
      const { n } = (await (await fetch(`${url}/rows`)).json()) as { n: number };
      return { n, u: n };
    },
    waiting: () => redis.llen(`${prefix}:events:wait`).catch(() => -1),
    async stop() {
      await p.stop('SIGTERM');
      redis.disconnect();
    },
  };
}

async function countRows(queryUrl: string, token: string): Promise<{ n: number; u: number }> {
  let res: Response;
  // 429: the query port's concurrency limit (a lag sample still running); its Retry-After is for people, a second will do.
  for (let tries = 0; ; tries++) {
    res = await fetch(`${queryUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: 'SELECT count() AS n, uniqExact(event_id) AS u FROM events' });
    if (res.status !== 429 || tries >= 30) break;
    await res.text();
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!res.ok) throw new Error(`count query failed: ${res.status} ${await res.text()}`);
  const r = JSON.parse((await res.text()).trim()) as { n: string; u: string };
  return { n: Number(r.n), u: Number(r.u) };
}

/** Bucket bound in ms → share of the 202 answers that took longer, in the collector's own measure. */
export type ServerLatency = Record<string, number>;

async function serverLatency(metricsUrl: string): Promise<ServerLatency> {
  const out: ServerLatency = {};
  try {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const buckets = [...text.matchAll(/^anon_collect_request_seconds_bucket\{(?=[^}]*status="202")[^}]*le="([^"]+)"[^}]*\} ([0-9.e+-]+)$/gm)];
    const total = Number(buckets.find((m) => m[1] === '+Inf')?.[2] ?? 0);
    if (total === 0) return out;
    for (const m of buckets) if (m[1] !== '+Inf') out[String(Number(m[1]) * 1000)] = Math.round((1 - Number(m[2]) / total) * 10_000) / 10_000;
  } catch {
    // not reported
  }
  return out;
}

async function aggregateLag(queryUrl: string, token: string): Promise<number | null> {
  const res = await fetch(`${queryUrl}/query`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: "SELECT if(data_up_to IS NULL OR data_up_to < '2000-01-01', -1, dateDiff('millisecond', data_up_to, now64(3)) / 1000) AS lag FROM v_freshness",
  });
  if (!res.ok) return null;
  const lag = Number((JSON.parse((await res.text()).trim() || '{}') as { lag?: string | number }).lag ?? -1);
  return lag >= 0 ? lag : null;
}

/** loop → p50/p99/max ms, from the anon_event_loop_delay_seconds gauge (src/observe/loop-delay.ts). */
export type LoopDelays = Record<string, { p50Ms: number; p99Ms: number; maxMs: number }>;

async function loopDelays(metricsUrl: string): Promise<LoopDelays> {
  const out: LoopDelays = {};
  try {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    for (const m of text.matchAll(/^anon_event_loop_delay_seconds\{loop="([^"]+)",stat="(p50|p99|max)"\} ([0-9.e+-]+)$/gm)) {
      const d = (out[m[1]!] ??= { p50Ms: 0, p99Ms: 0, maxMs: 0 });
      d[`${m[2] as 'p50' | 'p99' | 'max'}Ms`] = Math.round(Number(m[3]) * 1e4) / 10;
    }
  } catch {}
  return out;
}

async function queueWaiting(url: string): Promise<number> {
  try {
    const r = (await (await fetch(`${url}/readyz`)).json()) as { checks?: { queue?: { waiting?: number } } };
    return r.checks?.queue?.waiting ?? 0;
  } catch {
    return -1;
  }
}

/** One pipeline run: load for `seconds`, then wait until every accepted event is a row. */
async function pipelineRun(
  label: string,
  eventsPerRequest: number,
  seconds: number,
  opts: { rate?: number; connections?: number; start?: (dataDir: string, prefix: string) => Promise<Pipeline> } = {},
) {
  const { rate } = opts;
  const connections = opts.connections ?? CONNECTIONS;
  const dataDir = tempDir('bench');
  const prefix = `bench${randomId(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
  const p = await (opts.start ?? startPipeline)(dataDir, prefix);
  const depth: { t: number; waiting: number }[] = [];
  const t0 = Date.now();
  // The aggregates' lag behind the clock, sampled while the load runs (until the first aggregated event: since the load began).
  let loading = true;
  let aggregateLagMaxSeconds: number | null = p.aggregateLag ? 0 : null;
  // One lag query at a time: under full load a query can take longer than the interval, and the query port
  // refuses more than QUERY_CONCURRENCY at once (the drain's row counts need their turn).
  let lagQuery = false;
  const sampler = setInterval(async () => {
    depth.push({ t: Date.now() - t0, waiting: await p.waiting() });
    if (!p.aggregateLag || !loading || lagQuery) return;
    lagQuery = true;
    const lag = (await p.aggregateLag().catch(() => null)) ?? (Date.now() - t0) / 1000;
    lagQuery = false;
    if (loading) aggregateLagMaxSeconds = Math.max(aggregateLagMaxSeconds ?? 0, lag);
  }, 1000);
  let load: LoadResult;
  const cpuBefore = p.procs.map((proc) => cpuSeconds(proc.child.pid));
  try {
    load = await loadTest({
      url: `${p.url}/collect`,
      bodies: bodyPool(SITE, HOST, eventsPerRequest, 400),
      seconds,
      connections,
      rate,
      onTick: (s) => progress(`${label}: ${s.elapsed.toFixed(0)}/${seconds}s  ${Math.round(s.rps)} req/s  ${Math.round(s.rps * eventsPerRequest)} events/s accepted`),
    });
    loading = false;
    const accepted = load.accepted * eventsPerRequest;
    // CPU the pipeline's processes spent per accepted request during the load: steadier than req/s on a busy box.
    const cpuMs = p.procs.reduce((s, proc, i) => s + cpuSeconds(proc.child.pid) - cpuBefore[i]!, 0) * 1000;
    const cpuMsPer1000Requests = load.accepted > 0 ? Math.round((cpuMs / load.accepted) * 1000) : 0;
    // Read at once: the last complete 10 s window of the event loops was under load.
    const loopDelay = (await p.loopDelay?.()) ?? {};
    // Since the process started: this run's requests only (each run starts its own pipeline).
    const collectorLatency = (await p.serverLatency?.()) ?? {};
    // End to end: until the last accepted event is visible in ClickHouse.
    let rows = { n: 0, u: 0 };
    const deadline = Date.now() + 600_000;
    let lastChange = Date.now();
    while (Date.now() < deadline) {
      const before = rows.n;
      rows = await p.rows();
      if (rows.n !== before) lastChange = Date.now();
      progress(`${label}: draining  ${rows.n}/${accepted} rows visible`);
      if (rows.n >= accepted) break;
      // No new row for 30 s with nothing left in the queue: rows are missing; stop waiting and report it.
      if (Date.now() - lastChange > 30_000 && (await p.waiting()) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const e2eSeconds = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1500));
    rows = await p.rows();
    clearInterval(sampler);
    const rss = p.procs.map((proc, i) => ({ process: i === 0 ? (MODE === 'all-in-one' ? 'all-in-one' : 'collector') : `worker${i}`, peakRssMb: peakRssMb(proc.child.pid) }));
    progress('');
    return {
      label,
      eventsPerRequest,
      requestsPerSecond: load.rps,
      acceptedEventsPerSecond: load.rps * eventsPerRequest,
      latencyP50Ms: load.p50,
      latencyP99Ms: load.p99,
      non2xx: load.non2xx,
      errors: load.errors,
      acceptedEvents: accepted,
      rowsInClickHouse: rows.n,
      distinctEventIds: rows.u,
      // Requests still in flight when the load generator stops are not counted as accepted (their answer is
      // never read) but the collector may have queued them: at most one per connection may add rows.
      noLossNoDuplicates: rows.n === rows.u && rows.n >= accepted && rows.n - accepted <= connections * eventsPerRequest,
      endToEndEventsPerSecond: accepted / e2eSeconds,
      drainLagSeconds: e2eSeconds - load.seconds,
      queueDepth: depth,
      aggregateLagMaxSeconds,
      loopDelay,
      collectorLatency,
      cpuMsPer1000Requests,
      rss,
    };
  } finally {
    clearInterval(sampler);
    await p.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function collectorFloor(eventsPerRequest: number, connections: number): Promise<LoadResult> {
  const port = await freePort();
  const floor = await startProcess('bench/http-floor.ts', { PORT: String(port) }, `http://127.0.0.1:${port}/healthz`);
  try {
    return await loadTest({
      url: `http://127.0.0.1:${port}/collect`,
      bodies: bodyPool(SITE, HOST, eventsPerRequest, 400),
      seconds: FLOOR_SECONDS,
      connections,
      onTick: (s) => progress(`collector floor (${eventsPerRequest} ev/req): ${Math.round(s.rps)} req/s`),
    });
  } finally {
    await floor.stop('SIGTERM');
    progress('');
  }
}

function side(r: Awaited<ReturnType<typeof pipelineRun>>): ComparisonSide {
  return {
    endToEndEventsPerSecond: r.endToEndEventsPerSecond,
    acceptedEventsPerSecond: r.acceptedEventsPerSecond,
    latencyP99Ms: r.latencyP99Ms,
    peakRssMb: Math.max(...r.rss.map((x) => x.peakRssMb)),
    aggregateLagMaxSeconds: r.aggregateLagMaxSeconds,
    lossless: r.noLossNoDuplicates,
  };
}

/** The project and the minimal pipeline in turn, BENCH_RUNS times, under the same load. */
async function compareWithMinimal() {
  const pairs: ComparisonPair[] = [];
  for (let i = 0; i < RUNS; i++) {
    const opts = { connections: COMPARE_CONNECTIONS };
    const project = await pipelineRun(`compare ${i + 1}/${RUNS}: project`, 20, COMPARE_SECONDS, opts);
    const minimal = await pipelineRun(`compare ${i + 1}/${RUNS}: minimal pipeline`, 20, COMPARE_SECONDS, { ...opts, start: startMinimal });
    pairs.push({
      project: side(project),
      minimal: side(minimal),
      endToEndRatio: project.endToEndEventsPerSecond / minimal.endToEndEventsPerSecond,
      p99Ratio: project.latencyP99Ms / Math.max(minimal.latencyP99Ms, 0.001),
    });
  }
  return summariseComparison(pairs, COMPARE_SECONDS, COMPARE_CONNECTIONS);
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'compare') {
    // Only the comparison (for iterating on the hot path): no floors, no other phases.
    console.log(comparisonTable(await compareWithMinimal()).join('\n'));
    return;
  }
  if (process.env.BENCH_ONLY === 'half') {
    // The half-load latency alone, at BENCH_RATE requests/s of 20 events (default: half of what a quiet run here takes).
    const rate = Number(process.env.BENCH_RATE ?? 590);
    const half = await pipelineRun(`half load, ${rate} req/s`, 20, Math.min(30, SECONDS), { rate });
    console.log(
      `half load: ${Math.round(half.requestsPerSecond)} req/s accepted, p50 ${half.latencyP50Ms} ms, p99 ${half.latencyP99Ms} ms as the load generator saw it; ` +
        `the collector's own measure, share of answers over each bound (ms): ${JSON.stringify(half.collectorLatency)}; event-loop delay ${formatLoopDelay(half.loopDelay)}`,
    );
    return;
  }
  if (process.env.BENCH_ONLY === 'one-event') {
    const one = await pipelineRun('pipeline, 1 event/request', 1, Math.min(30, SECONDS), { connections: ONE_EVENT_CONNECTIONS });
    console.log(
      `1 event/request: ${Math.round(one.requestsPerSecond)} req/s accepted, p50 ${one.latencyP50Ms} ms, p99 ${one.latencyP99Ms} ms, rows = accepted: ${one.noLossNoDuplicates}, ` +
        `event-loop delay ${formatLoopDelay(one.loopDelay)}, CPU ${one.cpuMsPer1000Requests} ms per 1000 requests`,
    );
    return;
  }
  const started = new Date();
  console.error(`bench: mode ${MODE}${MODE === 'split' ? ` (${WORKERS} worker(s))` : ''}, ${process.env.CLICKHOUSE_URL ? 'ClickHouse server' : 'embedded ClickHouse'}, ${SECONDS}s pipeline phases, ${CONNECTIONS} connections`);
  const floorHttp20 = await collectorFloor(20, CONNECTIONS);
  const floorHttp1 = await collectorFloor(1, ONE_EVENT_CONNECTIONS);
  progress('CPU floor: anonymisation steps alone…');
  const cpu = await anonymiseFloor(FLOOR_SECONDS);
  progress('');
  const main20 = await pipelineRun('pipeline, 20 events/request', 20, SECONDS);
  const half = await pipelineRun('pipeline at half load (latency)', 20, Math.min(30, SECONDS), { rate: Math.max(1, Math.round(main20.requestsPerSecond / 2)) });
  const one = await pipelineRun('pipeline, 1 event/request', 1, Math.min(30, SECONDS), { connections: ONE_EVENT_CONNECTIONS });
  progress('storage floor: direct batched insert…');
  const storage = await storageFloor(200_000);
  progress('');
  const comparison = await compareWithMinimal();
  const result: BenchResult = {
    startedAt: started.toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    mode: MODE,
    floors: {
      collectorRps20: floorHttp20.rps,
      collectorRps1: floorHttp1.rps,
      anonymiseEventsPerSecondWarm: cpu.warm,
      anonymiseEventsPerSecondCold: cpu.cold,
      anonymiseMicrosPerEventWarm: 1e6 / cpu.warm,
      anonymiseMicrosPerEventCold: 1e6 / cpu.cold,
      storageRowsPerSecond: storage.rowsPerSecond,
    },
    runs: [main20, half, one],
    comparison,
    ratios: {
      collectorVsFloor20: main20.requestsPerSecond / floorHttp20.rps,
      collectorVsFloor1: one.requestsPerSecond / floorHttp1.rps,
      endToEndVsStorageFloor: main20.endToEndEventsPerSecond / storage.rowsPerSecond,
    },
    targets: {
      endToEndAtLeastMinimalPipeline: comparison.median.endToEndRatio >= 1,
      p99FullLoadUnder100ms: main20.latencyP99Ms <= 100,
      p99HalfLoadUnder25ms: half.latencyP99Ms <= 25,
      oneEvent8kRps: one.requestsPerSecond >= 8000,
      rssUnder600mb: [main20, half, one].every((r) => r.rss.every((x) => x.peakRssMb <= 600)),
      aggregatesFreshWithin60sAtFullLoad: main20.aggregateLagMaxSeconds !== null && main20.aggregateLagMaxSeconds <= 60,
    },
  };
  const dir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(dir, `${stamp}.json`), JSON.stringify(result, null, 2));
  const md = markdownTable(result);
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
  console.log(md);
  console.log(`results: bench/results/${stamp}.json and bench/results/latest.md`);
  const lossless = result.runs.every((r) => r.noLossNoDuplicates) && comparison.pairs.every((p) => p.project.lossless && p.minimal.lossless);
  if (!lossless) {
    console.error('bench: rows in ClickHouse differ from events accepted');
    process.exitCode = 1;
  }
}

function formatLoopDelay(d: LoopDelays): string {
  const loops = Object.entries(d);
  return loops.length ? loops.map(([loop, x]) => `${loop} p50 ${x.p50Ms} / p99 ${x.p99Ms} / max ${x.maxMs} ms`).join(', ') : 'not reported';
}

main().catch((err) => {
  console.error(`\nbench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
