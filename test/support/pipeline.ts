/**
 * A real pipeline for integration tests: the all-in-one process (collector +
 * worker + embedded ClickHouse) on real Redis, isolated by a fresh queue
 * prefix and a fresh data directory, with logs captured for canary scans.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observe/logger.js';
import { startAllInOne, type AllInOne } from '../../src/app/all-in-one.js';
import { BROWSER_UA, randomId } from './builders.js';
import { tempDir } from './tmp.js';
import { deleteKeys, dumpRedis } from './redis-keys.js';

export { tempDir };

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestPipeline {
  app: AllInOne;
  url: string;
  /** Where /query, /dashboard and /metrics are served (the all-in-one's QUERY_PORT). */
  queryUrl: string;
  prefix: string;
  dataDir: string;
  logs: string[];
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** Reads after bringing the aggregates up to date (they follow `events` in the background: src/store/aggregator.ts). */
  rows<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Brings the aggregates up to date with every row stored now (in turn with the worker's own runs). */
  aggregate(): Promise<void>;
  waitForCount(sql: string, want: number, timeoutMs?: number): Promise<number>;
  redisDump(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPipeline(env: Record<string, string> = {}): Promise<TestPipeline> {
  const dataDir = tempDir('pipeline');
  const prefix = `t${randomId(10).replace(/[^A-Za-z0-9]/g, 'x')}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    QUEUE_PREFIX: prefix,
    REDIS_URL,
    PORT: '0',
    QUERY_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    INSERT_FLUSH_MS: '100',
    GROUP_COMMIT_MS: '1',
    // The aggregates follow `events` in the background (src/store/aggregator.ts): soon enough for waitForCount.
    AGGREGATE_EVERY_MS: '100',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = await startAllInOne(config, createLogger(config.logLevel, 'test', sink), { lockMs: 2000, maxBackoffMs: 1000 });
  const redis = new Redis(REDIS_URL);
  const url = app.collector.url;
  const tp: TestPipeline = {
    app,
    url,
    queryUrl: app.queryUrl,
    prefix,
    dataDir,
    logs,
    async post(body, headers = {}) {
      const res = await fetch(`${url}/collect`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain', 'User-Agent': BROWSER_UA, ...headers },
        // A copy: fetch takes only views of a plain ArrayBuffer (Buffer's type also admits a SharedArrayBuffer).
        body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async aggregate() {
      await app.worker.aggregate?.();
    },
    async rows(sql, params) {
      await tp.aggregate();
      const rs = await app.store.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return rs.json();
    },
    async waitForCount(sql, want, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let n = -1;
      while (Date.now() < until) {
        const [r] = await tp.rows<{ n: string | number }>(sql);
        n = Number(r?.n ?? 0);
        if (n >= want) return n;
        await new Promise((r) => setTimeout(r, 100));
      }
      return n;
    },
    redisDump: () => dumpRedis(redis, prefix),
    async close() {
      await app.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return tp;
}
