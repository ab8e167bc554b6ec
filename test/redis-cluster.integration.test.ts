/**
 * The pipeline on a real Redis Cluster (issue 16): three masters started here
 * on free loopback ports (test/support/redis-cluster.ts), two collectors and
 * a worker as real child processes with REDIS_URL=redis+cluster://… and the
 * default hash-tagged prefix `{anon}`. Events go through both collectors;
 * mid-run one collector is restarted (SIGTERM, start again) and the worker is
 * killed (SIGKILL, so its jobs stall and come back) and started again. Every
 * event a collector acknowledged must be stored exactly once:
 * count = distinct ids = aggregated = acknowledged (why three figures:
 * test/support/fault-stack.ts).
 *
 * On the way it exercises on the cluster what else lives in Redis: the rate
 * limiter's script, the salts, the replay guard, the housekeeping leases and
 * the daily AOF rewrite (on every node, once), the dead-letter queue
 * (`npm run dlq` against the cluster) and the sweep of unparseable jobs, and
 * checks every key landed in the one slot of `{anon}`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SealedJobData } from '../src/queue/job.js';
import { generateSealKeyPair } from '../src/queue/seal.js';
import { BROWSER_UA, mixedBatch } from './support/builders.js';
import { parseLog, sleep, until } from './support/fault-stack.js';
import { startProcess, type Proc } from './support/process.js';
import { startRedisCluster, type LocalRedisCluster } from './support/redis-cluster.js';
import { freePort } from './support/redis-server.js';
import { tempDir } from './support/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const PREFIX = '{anon}';
const ADMIN_TOKEN = 'cluster-test-admin-token-0123456789';

let cluster: LocalRedisCluster;
let redis: Cluster;
let dataDir: string;
const started: Proc[] = [];
const keys = generateSealKeyPair();

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  redis = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), { redisOptions: { maxRetriesPerRequest: 3 } });
  redis.on('error', () => {});
  dataDir = tempDir('redis-cluster');
}, 120_000);

afterAll(async () => {
  for (const p of started) await p.stop('SIGKILL');
  redis?.disconnect();
  await cluster?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('on a three-master Redis Cluster', () => {
  it('two collectors and a worker, one collector and the worker restarted mid-run: every acknowledged event stored exactly once', async () => {
    const [c1Port, c2Port, workerPort] = [await freePort(), await freePort(), await freePort()];
    // QUEUE_PREFIX unset: the cluster default, {anon}.
    const base = { REDIS_URL: cluster.url, HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_SECRET: 'shared-by-both-collectors-0123', RATE_LIMIT_WINDOW_MS: '600000' };
    const collectorEnv = (port: number) => ({ ...base, PORT: String(port), SEAL_PUBLIC_KEY: keys.publicKey, DATA_DIR: path.join(dataDir, `c${port}`) });
    const workerEnv = {
      ...base,
      DATA_DIR: dataDir,
      WORKER_PORT: String(workerPort),
      SEAL_PRIVATE_KEY: keys.privateKey,
      ADMIN_TOKEN,
      INSERT_FLUSH_MS: '200',
      JOB_LOCK_MS: '2000',
      RETRY_MAX_BACKOFF_MS: '1000',
      // Background merges of events off, so a duplicate row would still be there to count (fault-stack.ts).
      TEST_ONLY_FAULTS: 'stop-merges',
    };
    const start = async (entry: string, env: Record<string, string>, health: string) => {
      const p = await startProcess(entry, env, health);
      started.push(p);
      return p;
    };
    const startWorker = () => start('workers/anonymiser.ts', workerEnv, `http://127.0.0.1:${workerPort}/healthz`);
    const startCollector = (port: number) => start('src/app/collector-main.ts', collectorEnv(port), `http://127.0.0.1:${port}/healthz`);

    let worker = await startWorker();
    let c1 = await startCollector(c1Port);
    const c2 = await startCollector(c2Port);
    const workerOutputs = [worker.output];

    const acked = new Map<number, number>([
      [c1Port, 0],
      [c2Port, 0],
    ]);
    const statuses: number[] = [];
    const send = async (port: number) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/collect`, {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA },
          body: JSON.stringify(mixedBatch(10)),
          signal: AbortSignal.timeout(15_000),
        });
        const json = (await res.json().catch(() => ({}))) as { accepted?: number };
        statuses.push(res.status);
        if (res.status >= 200 && res.status < 300) acked.set(port, acked.get(port)! + (json.accepted ?? 0));
      } catch {
        statuses.push(0); // refused: the collector is restarting; nothing acknowledged
      }
    };

    // Bounded load: 36 rounds of 6 concurrent requests, half to each collector.
    for (let round = 0; round < 36; round++) {
      await Promise.all(Array.from({ length: 6 }, (_, i) => send(i % 2 ? c2Port : c1Port)));
      if (round === 10) {
        // Collector 1 restarts (drain on SIGTERM, then a new process on the same port); collector 2 carries on.
        const stopped = c1.stop('SIGTERM');
        await Promise.all(Array.from({ length: 6 }, () => send(c2Port)));
        expect(await stopped).toBe(0);
        c1 = await startCollector(c1Port);
      }
      if (round === 20) {
        // The worker dies holding jobs (they stall and come back after JOB_LOCK_MS); while it is away, two jobs
        // no worker can take are written to the cluster: one that cannot be opened (a dead letter at once) and
        // one whose data is not JSON (swept away unread).
        await worker.stop('SIGKILL');
        const queue = new Queue<SealedJobData>('events', { connection: redis, prefix: PREFIX });
        queue.on('error', () => {});
        await queue.add('collected', { s: Buffer.from('not a sealed envelope').toString('base64'), n: 1, nonce: 'cluster-test-unopenable' });
        const malformed = await queue.add('collected', { s: 'x', n: 1 });
        await redis.hset(`${PREFIX}:events:${malformed.id}`, 'data', '{"not json');
        await queue.close();
        await Promise.all(Array.from({ length: 6 }, (_, i) => send(i % 2 ? c2Port : c1Port)));
        worker = await startWorker();
        workerOutputs.push(worker.output);
      }
    }
    const acknowledged = acked.get(c1Port)! + acked.get(c2Port)!;
    // Both collectors took events, before and after the restart.
    expect(acked.get(c1Port)!).toBeGreaterThan(0);
    expect(acked.get(c2Port)!).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(150);
    expect(statuses.filter((s) => s !== 202 && s !== 0)).toEqual([]);

    const query = async (sql: string) => {
      const res = await fetch(`http://127.0.0.1:${workerPort}/query`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, body: sql, signal: AbortSignal.timeout(15_000) });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      return JSON.parse((await res.text()).trim()) as Record<string, string>;
    };
    const tally = async () => {
      const r = await query(
        'SELECT (SELECT count() FROM events) AS n, (SELECT uniqExact(event_id) FROM events) AS u, ' +
          '(SELECT sum(pageviews) + sum(engagements) FROM agg_pages_daily) + (SELECT sum(clicks) FROM agg_click_cells) + ' +
          '(SELECT sum(events) FROM agg_custom_daily) AS a',
      );
      return { count: Number(r.n), distinct: Number(r.u), aggregated: Number(r.a) };
    };
    // The killed worker's jobs come back after JOB_LOCK_MS; give the stall check and the inserts time.
    const final = await until(tally, (t) => t.count >= acknowledged && t.aggregated >= acknowledged, 90_000, 500);
    await sleep(1500); // anything late (a duplicate) would show now
    expect(await tally()).toEqual({ count: acknowledged, distinct: acknowledged, aggregated: acknowledged });
    expect(final.count).toBe(acknowledged);

    // The unopenable job is a dead letter; `npm run dlq` lists and purges it on the cluster.
    const dlq = (...args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', path.join(ROOT, 'scripts/dlq.ts'), ...args],
          { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL: cluster.url }, timeout: 30_000 },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
        ),
      );
    const listed = await until(() => dlq('list'), (r) => r.out.includes('1 dead letter(s)'), 20_000, 500);
    expect(listed.out).toContain('1 dead letter(s)');
    expect(await dlq('purge')).toMatchObject({ code: 0, out: expect.stringContaining('purged 1 dead letter(s)') });

    // The unparseable job was swept away unread.
    const metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
    expect(metrics).toMatch(/^anon_jobs_malformed_total 1$/m);

    // Every key of the pipeline is in the slot of {anon}, on the one master that serves it.
    const slot = Number(await redis.cluster('KEYSLOT', PREFIX));
    const keysByNode = await Promise.all(
      redis.nodes('master').map(async (node) => {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
          cursor = next;
          found.push(...batch);
        } while (cursor !== '0');
        return found;
      }),
    );
    const holders = keysByNode.filter((k) => k.length > 0);
    expect(holders).toHaveLength(1);
    const all = holders[0]!;
    for (const k of all) expect(Number(await redis.cluster('KEYSLOT', k)), k).toBe(slot);
    const kinds = (re: RegExp) => all.filter((k) => re.test(k)).length;
    expect(kinds(/^\{anon\}:salt:\d{4}-\d{2}-\d{2}$/)).toBe(1); // the day's salt
    expect(kinds(/^\{anon\}:seen:\d+$/)).toBeGreaterThanOrEqual(1); // the replay guard
    expect(kinds(/^\{anon\}:rl:/)).toBeGreaterThanOrEqual(1); // rate-limit counters (a script over several keys)
    expect(kinds(/^\{anon\}:hk:dead-letter-expiry:done$/)).toBe(1); // housekeeping ran, under its lease
    expect(kinds(/^\{anon\}:events:meta$/)).toBe(1); // the BullMQ queue

    // The daily AOF rewrite reached every node of the cluster (each keeps its own AOF), once for the deployment:
    // the restarted worker found the day's rewrite done.
    for (const node of redis.nodes('master')) {
      expect(/^aof_rewrites:(\d+)/m.exec(await node.info('persistence'))?.[1], `${node.options.port}`).toBe('1');
    }

    // Nothing went wrong on the way: no cross-slot errors, no failed sweeps or housekeeping.
    const log = workerOutputs.flatMap((o) => parseLog(o));
    const text = workerOutputs.flat().join('');
    expect(text).not.toMatch(/CROSSSLOT|MOVED|sweep failed|housekeeping job failed/);
    expect(log.filter((l) => l.msg === 'job moved to the dead-letter queue')).toHaveLength(1);
  }, 300_000);
});
