/**
 * `npm start` as a real process (with its npm script's variables): the collector in a thread of its own, the
 * worker and the embedded ClickHouse on the main thread (issue 15). Events go
 * through both threads; /metrics merges both registries; /readyz on each
 * port reports the other side; the thread logs to the same output; SIGTERM
 * drains the collector (an in-flight request still gets its 202) before the
 * worker and exits 0; a dead collector thread takes the process down with
 * exit code 1 instead of leaving it half alive.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { COLLECTOR_CRASH_FILE } from '../src/app/faults.js';
import { batch, BROWSER_UA, EventBuilder, randomId } from './support/builders.js';
import { REDIS_URL, tempDir } from './support/pipeline.js';
import { startProcess, type Proc } from './support/process.js';
import { rawRequest } from './support/raw-http.js';
import { deleteKeys } from './support/redis-keys.js';
import { freePort } from './support/redis-server.js';

const GRACE_MS = 20_000;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function startAllInOne(extra: Record<string, string> = {}, dataDir = tempDir('threads'), prefix = `th${randomId(8).replace(/[^A-Za-z0-9]/g, 'x')}`) {
  const port = await freePort();
  const queryPort = await freePort();
  const env = {
    REDIS_URL,
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    QUERY_PORT: String(queryPort),
    HOST: '127.0.0.1',
    SITES: JSON.stringify({ demo: ['localhost'] }),
    INSERT_FLUSH_MS: '100',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    ...extra,
  };
  const proc = await startProcess('src/app/all-in-one-main.ts', env, `http://127.0.0.1:${port}/healthz`, 120_000);
  cleanups.push(async () => {
    await proc.stop('SIGKILL');
    const redis = new Redis(REDIS_URL);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const collectorUrl = `http://127.0.0.1:${port}`;
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  // The collector's port answers first (the thread listens before the people's port opens).
  await expect.poll(() => fetch(`${queryUrl}/healthz`).then((r) => r.status, () => 0), { timeout: 60_000, interval: 100 }).toBe(200);
  const admin = () => (JSON.parse(fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8')) as { admin: string }).admin;
  const count = async (sql: string) => {
    const res = await fetch(`${queryUrl}/query`, { method: 'POST', headers: { Authorization: `Bearer ${admin()}` }, body: sql });
    expect(res.status).toBe(200);
    return Number((JSON.parse((await res.text()).trim()) as { n: string }).n);
  };
  return { proc, port, collectorUrl, queryUrl, dataDir, prefix, count };
}

const post = (url: string, body: unknown) =>
  fetch(`${url}/collect`, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA }, body: JSON.stringify(body) });

/** The value of a metric line (name with its labels as printed), or undefined when absent. */
function metric(text: string, line: string): number | undefined {
  const m = text.split('\n').find((l) => l.startsWith(`${line} `));
  return m === undefined ? undefined : Number(m.slice(line.length + 1));
}

describe('npm start: the collector in a thread of its own', () => {
  it('carries events through both threads, merges /metrics, reports readiness both ways, logs from the thread, and drains on SIGTERM', async () => {
    const p = await startAllInOne();
    const out = () => p.proc.output.join('');
    // It runs as `npm start` runs it: with the variables the script sets before the process starts.
    const environ = fs.readFileSync(`/proc/${p.proc.child.pid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX=2', 'UV_THREADPOOL_SIZE=16']));
    expect(out()).toContain(`collector       POST ${p.collectorUrl}/collect`);
    expect(out()).toContain(`tracker script  ${p.collectorUrl}/t.js`);
    // The collector thread logs to the same output, marked as the thread's.
    expect(out()).toMatch(/"thread":"collector"[^\n]*collector seals jobs for worker key/);

    for (let i = 0; i < 5; i++) expect((await post(p.collectorUrl, batch([EventBuilder.pageview(`http://localhost/threads/${i}`)]))).status).toBe(202);
    await expect.poll(() => p.count("SELECT count() AS n FROM events WHERE path LIKE '/threads/%'"), { timeout: 30_000, interval: 200 }).toBe(5);

    const scrape = async () => (await fetch(`${p.queryUrl}/metrics`)).text();
    // The thread's counters (accepted at the collector) and the main thread's (inserted by the worker), in one
    // answer. (Rows can be visible a moment before the insert's own call returns and counts them.)
    await expect.poll(async () => metric(await scrape(), 'anon_rows_inserted_total'), { timeout: 10_000 }).toBe(5);
    const text = await scrape();
    expect(metric(text, 'anon_events_accepted_total')).toBe(5);
    expect(metric(text, 'anon_collect_request_seconds_count{status="202"}')).toBe(5);
    // Each loop's delay under its own label; the process-wide defaults once (the thread reports none).
    for (const loop of ['main', 'collector']) expect(metric(text, `anon_event_loop_delay_seconds{loop="${loop}",stat="p99"}`)).toBeGreaterThanOrEqual(0);
    expect(text.split('\n').filter((l) => l.startsWith('process_cpu_user_seconds_total ')).length).toBe(1);
    // Not on the public port.
    expect((await fetch(`${p.collectorUrl}/metrics`)).status).toBe(404);

    const collectorReady = (await (await fetch(`${p.collectorUrl}/readyz`)).json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(collectorReady.status).toBe('ready');
    expect(collectorReady.checks.store?.ok).toBe(true);
    expect(collectorReady.checks.queue?.ok).toBe(true);
    const peopleReady = (await (await fetch(`${p.queryUrl}/readyz`)).json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(peopleReady).toMatchObject({ status: 'ready', checks: { store: { ok: true }, collector: { ok: true } } });

    // SIGTERM with a request in flight (headers sent, body not yet): the collector answers it before the
    // process goes, and the worker then drains its job.
    const body = JSON.stringify(batch([EventBuilder.pageview('http://localhost/threads/in-flight')]));
    const half = Math.floor(body.length / 2);
    const inFlight = rawRequest({
      port: p.port,
      head: `POST /collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nUser-Agent: ${BROWSER_UA}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
      drip: { chunk: () => body.slice(half), everyMs: 500, maxChunks: 1 },
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    p.proc.child.kill('SIGTERM');
    expect((await inFlight).status).toBe(202);
    expect(await p.proc.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(GRACE_MS);
    expect(out()).toMatch(/"msg":"draining"[\s\S]*"msg":"drained; bye"/);

    // Started again on the same data directory (the engine's lock was released): the in-flight event is there, once.
    const again = await startAllInOne({}, p.dataDir, p.prefix);
    expect(await again.count("SELECT count() AS n FROM events WHERE path = '/threads/in-flight'")).toBe(1);
    expect(await again.count("SELECT count() AS n FROM events WHERE path LIKE '/threads/%'")).toBe(6);
  });

  it('a collector thread that dies takes the process down with exit code 1, after the worker drained', async () => {
    const p: { proc: Proc; dataDir: string; collectorUrl: string } = await startAllInOne({ TEST_ONLY_FAULTS: 'collector-thread-crash-while-file' });
    expect((await post(p.collectorUrl, batch([EventBuilder.pageview('http://localhost/threads/before-crash')]))).status).toBe(202);
    fs.writeFileSync(path.join(p.dataDir, COLLECTOR_CRASH_FILE), '');
    expect(await p.proc.exited).toBe(1);
    const out = p.proc.output.join('');
    expect(out).toContain('collector thread died; draining the worker, then exiting');
    expect(out).not.toContain('drain exceeded the grace period');
  });
});
