/**
 * `npm run erase -- --site S --ip A --ua U` (issue 12, item 7): a visitor
 * asks for their data within 48 h. Two visitors browse the demo shop through
 * the real pipeline; after the all-in-one stops (the embedded store allows
 * one process), the command deletes the first visitor's rows from every
 * table holding the daily visitor hash, and leaves the second visitor's.
 * A day whose salt is gone reports that its ids can no longer be computed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { generateSealKeyPair } from '../src/queue/seal.js';
import { openStore, type Store } from '../src/store/client.js';
import { addressForms } from '../src/app/erase.js';
import { batch, EventBuilder } from './support/builders.js';
import { REDIS_URL, startTestPipeline, type TestPipeline } from './support/pipeline.js';
import { deleteKeys } from './support/redis-keys.js';

const A = { ip: '203.0.113.77', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' };
const B = { ip: '203.0.113.78', ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36' };
const keys = generateSealKeyPair();
const env = { TRUST_PROXY: 'loopback', SEAL_PUBLIC_KEY: keys.publicKey, SEAL_PRIVATE_KEY: keys.privateKey };

let p: TestPipeline;
let store: Store | undefined;
const redis = new Redis(REDIS_URL);

beforeAll(async () => {
  p = await startTestPipeline(env);
});
afterAll(async () => {
  await store?.close();
  await deleteKeys(redis, p.prefix);
  redis.disconnect();
  fs.rmSync(p.dataDir, { recursive: true, force: true });
});

const erase = (ip: string, ua: string) =>
  promisify(execFile)(path.resolve('node_modules/.bin/tsx'), ['scripts/erase.ts', '--site', 'demo', '--ip', ip, '--ua', ua], {
    env: { ...process.env, ...env, DATA_DIR: p.dataDir, QUEUE_PREFIX: p.prefix, REDIS_URL, LOG_LEVEL: 'silent', CLICKHOUSE_URL: '' },
    timeout: 120_000,
  });

describe('npm run erase', () => {
  it("deletes one visitor's rows of today from every table with the visitor hash, and no one else's", async () => {
    for (const v of [A, B]) {
      const pv = EventBuilder.pageview('http://localhost/demo/').pageviewId('pageviewAAAA' + v.ip.slice(-2));
      const body = batch([pv, EventBuilder.click('http://localhost/demo/').pageviewId('pageviewAAAA' + v.ip.slice(-2)), EventBuilder.pageview('http://localhost/demo/cart')]);
      expect((await p.post(body, { 'X-Forwarded-For': v.ip, 'User-Agent': v.ua })).status).toBe(202);
    }
    expect(await p.waitForCount('SELECT count() n FROM events', 6)).toBe(6);
    expect(await p.waitForCount('SELECT count() n FROM agg_visitor_days', 2)).toBe(2);
    await p.app.close();

    const { stdout } = await erase(A.ip, A.ua);
    const today = new Date().toISOString().slice(0, 10);
    expect(stdout).toMatch(new RegExp(`${today}: \\d+ row\\(s\\) deleted \\(.*events 3`));
    // It prints no address and no user agent.
    expect(stdout).not.toContain(A.ip);
    expect(stdout).not.toContain('Windows');

    store = await openStore(loadConfig({ DATA_DIR: p.dataDir }).store);
    const count = async (sql: string) => Number((await (await store!.client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
    expect(await count('SELECT count() n FROM events')).toBe(3);
    expect(await count('SELECT uniqExact(visitor_id) n FROM events')).toBe(1);
    for (const t of ['agg_visitor_days', 'agg_visitor_pageviews']) {
      expect(await count(`SELECT uniqExact(visitor_id) n FROM ${t}`), t).toBe(1);
      expect(await count(`SELECT count() n FROM ${t} WHERE visitor_id NOT IN (SELECT visitor_id FROM events)`), t).toBe(0);
    }
    await store.close();
    store = undefined;

    // Again: nothing left of A; B untouched.
    expect((await erase(A.ip, A.ua)).stdout).toMatch(new RegExp(`${today}: 0 row\\(s\\) deleted`));
    // A day whose salt is gone: nothing can be computed.
    await redis.del(`${p.prefix}:salt:${today}`);
    expect((await erase(B.ip, B.ua)).stdout).toMatch(new RegExp(`${today}: the day's salt is gone`));
  });

  it('tries the address in the forms a collector may have seen', () => {
    expect(addressForms('203.0.113.77')).toEqual(['203.0.113.77', '::ffff:203.0.113.77']);
    expect(addressForms('2001:DB8:0::1')).toEqual(['2001:DB8:0::1', '2001:db8::1']);
    expect(addressForms('::ffff:203.0.113.77')).toEqual(['::ffff:203.0.113.77', '::ffff:cb00:714d', '203.0.113.77']);
    expect(() => addressForms('0xcb.0.113.77')).toThrow(/canonical/);
  });
});
