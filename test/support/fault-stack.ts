/**
 * The fault tests' stage: the real collector and worker entry points as child
 * processes on a fresh queue prefix and data directory, a ledger of every
 * event the collector acknowledged with 2xx, and readers for what ClickHouse
 * and Redis hold, so each test can end with
 * count = distinct = aggregated = acknowledged.
 *
 * Why three figures: `events` is a ReplacingMergeTree, and a background merge
 * collapses rows with the same event id, so count() = uniqExact(event_id)
 * alone could pass with duplicates written and merged away. Two guards:
 *   - every worker of the stack runs with TEST_ONLY_FAULTS on, which makes it
 *     run `SYSTEM STOP MERGES events` before it takes a job (src/app/faults.ts;
 *     the worker owns the embedded store, so it must be the one to do it);
 *   - `aggregated` sums the aggregates that see every event type (page views
 *     and engagements in agg_pages_daily, clicks in agg_click_cells, custom
 *     events in agg_custom_daily), once the background aggregation
 *     (src/store/aggregator.ts) has covered every block of `events`. An
 *     aggregate counts rows and merges only add up, never collapse, so a
 *     range aggregated twice, or an event id counted twice, shows there
 *     whatever merges did.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BROWSER_UA, mixedBatch, randomId } from './builders.js';
import { REDIS_URL } from './pipeline.js';
import { freePort } from './redis-server.js';
import { deleteKeys } from './redis-keys.js';
import { startProcess, type Proc } from './process.js';
import { tempDir } from './tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const QUEUE = 'events';

/** Given to workers of tests that inject nothing else, so that STOP MERGES is on (src/app/faults.ts). */
const INERT_FAULT = 'stop-merges';
const MERGES_STOPPED = 'TEST_ONLY_FAULTS: background merges of events stopped';

/** What ClickHouse holds, three ways (see the header). */
export interface Tally {
  count: number;
  distinct: number;
  aggregated: number;
}

/** A /metrics scrape: the value of one series (labels in prom-client's order, e.g. `le="0.2",status="503"`), 0 when absent. */
export type Scrape = (name: string, labels?: string) => number;

export interface SendResult {
  status: number;
  accepted: number;
  ms: number;
  retryAfter: string | null;
  error?: string;
}

export interface FaultStack {
  env: Record<string, string>;
  dataDir: string;
  prefix: string;
  redisUrl: string;
  collectorUrl: string;
  workerUrl: string;
  collector: Proc | undefined;
  worker: Proc | undefined;
  /** Events acknowledged with 2xx, in total. */
  acknowledged: number;
  redis: Redis;
  startCollector(extra?: Record<string, string>): Promise<Proc>;
  startWorker(extra?: Record<string, string>): Promise<Proc>;
  /** One POST /collect of a batch (default 10 mixed events); 2xx adds to the ledger; a refused connection is status 0. */
  send(body?: unknown): Promise<SendResult>;
  /** Up to `rounds` rounds of `parallel` concurrent sends; `between` runs after each round and stops the load by returning 'stop'. */
  load(rounds: number, parallel: number, between?: (round: number) => Promise<'stop' | void> | 'stop' | void): Promise<SendResult[]>;
  query(sql: string): Promise<Record<string, string>>;
  stored(where?: string): Promise<{ n: number; u: number }>;
  /** count(), uniqExact(event_id) and the aggregates' sum of events: each must equal the ledger. */
  tally(): Promise<Tally>;
  /** GET <baseUrl>/metrics of the collector or the worker. */
  scrape(baseUrl: string): Promise<Scrape>;
  /** Polls until ClickHouse holds at least `want` rows (default: the ledger), then returns count and distinct ids. */
  waitForStored(want?: number, timeoutMs?: number, where?: string): Promise<{ n: number; u: number }>;
  queueCounts(): Promise<{ wait: number; active: number; delayed: number; failed: number; prioritized: number }>;
  jobKey(id: string): string;
  /** `npm run dlq -- …` as a child process against this stack's prefix. */
  dlq(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  workerLog(): { msg?: string; [k: string]: unknown }[];
  close(): Promise<void>;
}

export async function createFaultStack(tag: string, env: Record<string, string> = {}, redisUrl = REDIS_URL): Promise<FaultStack> {
  const dataDir = tempDir(tag);
  const prefix = `t${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`;
  const [port, workerPort] = [await freePort(), await freePort()];
  const base: Record<string, string> = {
    REDIS_URL: redisUrl,
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_PORT: String(workerPort),
    HOST: '127.0.0.1',
    INSERT_FLUSH_MS: '200',
    // The aggregates follow `events` within a fraction of a second (tally() waits for them).
    AGGREGATE_EVERY_MS: '200',
    JOB_LOCK_MS: '2000',
    RETRY_MAX_BACKOFF_MS: '1000',
    LOG_LEVEL: 'info',
    ...env,
  };
  /** Every process started, so close() kills a worker a failed test left running, not only the latest. */
  const started: Proc[] = [];
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  redis.on('error', () => {});
  const s: FaultStack = {
    env: base,
    dataDir,
    prefix,
    redisUrl,
    collectorUrl: `http://127.0.0.1:${port}`,
    workerUrl: `http://127.0.0.1:${workerPort}`,
    collector: undefined,
    worker: undefined,
    acknowledged: 0,
    redis,
    async startCollector(extra = {}) {
      s.collector = await startProcess('src/app/collector-main.ts', { ...base, ...extra }, `${s.collectorUrl}/healthz`);
      started.push(s.collector);
      return s.collector;
    },
    async startWorker(extra = {}) {
      const env = { ...base, ...extra };
      env.TEST_ONLY_FAULTS ||= INERT_FAULT;
      const worker = (s.worker = await startProcess('workers/anonymiser.ts', env, `${s.workerUrl}/healthz`));
      started.push(worker);
      if (!env.CLICKHOUSE_URL) {
        // Written before the worker listens; give the pipe a moment to deliver it.
        const stopped = await until(async () => worker.output.join(''), (out) => out.includes(MERGES_STOPPED), 3000, 50);
        if (!stopped.includes(MERGES_STOPPED)) throw new Error(`the worker did not stop merges of events:\n${stopped.slice(-3000)}`);
      }
      return worker;
    },
    async send(body = mixedBatch(10)) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${s.collectorUrl}/collect`, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const json = (await res.json().catch(() => ({}))) as { accepted?: number; error?: string };
        const ms = performance.now() - t0;
        const accepted = res.status >= 200 && res.status < 300 ? (json.accepted ?? 0) : 0;
        s.acknowledged += accepted;
        return { status: res.status, accepted, ms, retryAfter: res.headers.get('retry-after'), error: json.error };
      } catch (err) {
        return { status: 0, accepted: 0, ms: performance.now() - t0, retryAfter: null, error: (err as Error).message };
      }
    },
    async load(rounds, parallel, between) {
      const out: SendResult[] = [];
      for (let i = 0; i < rounds; i++) {
        out.push(...(await Promise.all(Array.from({ length: parallel }, () => s.send()))));
        if ((await between?.(i)) === 'stop') break;
      }
      return out;
    },
    async query(sql) {
      const { admin } = JSON.parse(fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8')) as { admin: string };
      const res = await fetch(`${s.workerUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` }, body: sql, signal: AbortSignal.timeout(15_000) });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      return JSON.parse((await res.text()).trim()) as Record<string, string>;
    },
    async stored(where = '1') {
      const r = await s.query(`SELECT count() AS n, uniqExact(event_id) AS u FROM events WHERE ${where}`);
      return { n: Number(r.n), u: Number(r.u) };
    },
    async tally() {
      // The aggregates follow `events` in the background: wait until the last finished range covers every block
      // stored (an aggregation that never catches up leaves `aggregated` short, and the test says so).
      const covered = () => s.query("SELECT (SELECT max(hi) FROM agg_runs WHERE step = 'done') >= (SELECT max(_block_number) FROM events) AS ok");
      await until(covered, (r) => r.ok === '1' || (r.ok as unknown) === 1, 30_000, 200).catch(() => {});
      const r = await s.query(
        'SELECT (SELECT count() FROM events) AS n, (SELECT uniqExact(event_id) FROM events) AS u, ' +
          '(SELECT sum(pageviews) + sum(engagements) FROM agg_pages_daily) + (SELECT sum(clicks) FROM agg_click_cells) + ' +
          '(SELECT sum(events) FROM agg_custom_daily) AS a',
      );
      return { count: Number(r.n), distinct: Number(r.u), aggregated: Number(r.a) };
    },
    async scrape(baseUrl) {
      const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
      const values = new Map<string, number>();
      for (const line of (await res.text()).split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const at = line.lastIndexOf(' ');
        values.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
      return (name, labels) => values.get(labels ? `${name}{${labels}}` : name) ?? 0;
    },
    async waitForStored(want = s.acknowledged, timeoutMs = 30_000, where = '1') {
      const until = Date.now() + timeoutMs;
      let last = { n: -1, u: -1 };
      while (Date.now() < until) {
        last = await s.stored(where).catch(() => last);
        if (last.n >= want) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      return last;
    },
    async queueCounts() {
      const k = (x: string) => `${prefix}:${QUEUE}:${x}`;
      const [wait, active, delayed, failed, prioritized] = await Promise.all([
        redis.llen(k('wait')),
        redis.llen(k('active')),
        redis.zcard(k('delayed')),
        redis.zcard(k('failed')),
        redis.zcard(k('prioritized')),
      ]);
      return { wait, active, delayed, failed, prioritized };
    },
    jobKey: (id) => `${prefix}:${QUEUE}:${id}`,
    dlq(...args) {
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', path.join(ROOT, 'scripts/dlq.ts'), ...args],
          { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...base }, timeout: 30_000 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    },
    workerLog() {
      return parseLog(s.worker?.output ?? []);
    },
    async close() {
      for (const p of started) await p.stop('SIGKILL');
      await deleteKeys(redis, prefix).catch(() => {});
      redis.disconnect();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return s;
}

/** pino lines of a child's output (other lines skipped). */
export function parseLog(output: string[]): { msg?: string; [k: string]: unknown }[] {
  const out: { msg?: string; [k: string]: unknown }[] = [];
  for (const line of output.join('').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as { msg?: string });
    } catch {}
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a condition, bounded; returns the last value. */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, intervalMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await sleep(intervalMs);
    v = await read();
  }
  return v;
}
