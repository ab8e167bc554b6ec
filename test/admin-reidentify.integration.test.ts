/**
 * The admin's attack (issue 12, item 1): someone who holds a Redis dump, every
 * ClickHouse table, the data directory and both /query tokens, but not the
 * workers' private key (production keeps it in the workers' secret store, not
 * beside the data), tries to get a visitor's full address back, and to link
 * the visitor's ids of two days.
 *
 * The attack: every stored `visitor_id` comes with its `ip_prefix` and its
 * generalised browser and OS. Browsers send reduced user agents today (Chrome
 * freezes everything but the major version), so a handful of candidate UAs
 * per row is enough; with the /24 that is 256 addresses × a few dozen UAs per
 * key the admin might hold. Every 32-byte value in Redis (the day salts among
 * them), every secret the admin holds (tokens, the collectors' public key,
 * anything in DATA_DIR) is tried as a key, through the project's own id
 * derivation. A match gives the full address and UA of that visitor-day;
 * equal (address, UA) on two days links them.
 *
 * Control: the same search with the workers' private key does find the
 * visitor: the harness is right, and the only thing missing is that key.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visitorId } from '../src/anonymise/ids.js';
import { dayIdKey } from '../src/anonymise/salts.js';
import { workerIdSecret } from '../src/queue/keys.js';
import { generateSealKeyPair } from '../src/queue/seal.js';
import { batch, EventBuilder } from './support/builders.js';
import { REDIS_URL, startTestPipeline, type TestPipeline } from './support/pipeline.js';

const DAY = 86_400_000;
const VICTIM_IP = '203.0.113.77';
const chromeUa = (platform: string, major: number, mobile = false) =>
  `Mozilla/5.0 (${platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 ${mobile ? 'Mobile ' : ''}Safari/537.36`;
const VICTIM_UA = chromeUa('Windows NT 10.0; Win64; x64', 131);
const ANALYST_TOKEN = 'analyst-token-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdefgh';

/** What a reduced user agent can be, given the generalised browser/OS the row itself stores. */
function candidateUas(): string[] {
  const out: string[] = [];
  for (let major = 120; major <= 135; major++) {
    for (const platform of ['Windows NT 10.0; Win64; x64', 'Macintosh; Intel Mac OS X 10_15_7', 'X11; Linux x86_64']) out.push(chromeUa(platform, major));
    out.push(chromeUa('Linux; Android 10; K', major, true));
  }
  return out;
}

/** The 256 addresses of an IPv4 /24 stored as "a.b.c.0/24". */
function addressesOf(prefix: string): string[] {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(prefix);
  return m ? Array.from({ length: 256 }, (_, i) => `${m[1]}.${i}`) : [];
}

/** Every byte string found in a Redis dump: string values and hash fields, as raw bytes. */
async function redisLoot(redis: Redis, prefix: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const key of await redis.keys(`${prefix}:*`)) {
    const type = await redis.type(key);
    if (type === 'string') out.push((await redis.getBuffer(key))!);
    if (type === 'hash') out.push(...Object.values(await redis.hgetallBuffer(key)));
  }
  return out;
}

/** Every file under DATA_DIR except the engine's own parts (already read as tables), and every token-looking string in them. */
function dataDirSecrets(dir: string): Buffer[] {
  const out: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'clickhouse') walk(f);
      } else {
        const text = fs.readFileSync(f, 'utf8');
        out.push(Buffer.from(text.trim()));
        for (const m of text.matchAll(/[A-Za-z0-9+/_=-]{16,}/g)) out.push(Buffer.from(m[0]), Buffer.from(m[0], 'base64'));
      }
    }
  };
  walk(dir);
  return out;
}

interface Found {
  day: string;
  visitor: string;
  ip: string;
  ua: string;
  tries: number;
}

/** The brute force: every row × every key × 256 addresses × candidate UAs, through the project's own id function. */
function bruteForce(rows: { day: string; site: string; ip_prefix: string; visitor_id: string }[], keys: Buffer[]): Found[] {
  const uas = candidateUas();
  const found: Found[] = [];
  for (const r of rows) {
    let tries = 0;
    search: for (const key of keys) {
      for (const ip of addressesOf(r.ip_prefix)) {
        for (const ua of uas) {
          tries++;
          if (visitorId(key, r.site, ip, ua) === r.visitor_id) {
            found.push({ day: r.day, visitor: r.visitor_id, ip, ua, tries });
            break search;
          }
        }
      }
    }
  }
  return found;
}

/** Visitor-days whose recovered (address, UA) are equal: the same person on two days. */
function linkedDays(found: Found[]): string[][] {
  const byPerson = new Map<string, Set<string>>();
  for (const f of found) byPerson.set(`${f.ip} ${f.ua}`, (byPerson.get(`${f.ip} ${f.ua}`) ?? new Set()).add(f.day));
  return [...byPerson.values()].filter((days) => days.size > 1).map((d) => [...d].sort());
}

const keys = generateSealKeyPair();
let p: TestPipeline;
let redis: Redis;

beforeAll(async () => {
  // Production-shaped: keys and tokens come from the environment, so nothing secret is written to DATA_DIR.
  p = await startTestPipeline({
    TRUST_PROXY: 'loopback',
    SEAL_PUBLIC_KEY: keys.publicKey,
    SEAL_PRIVATE_KEY: keys.privateKey,
    ANALYST_TOKEN,
    ADMIN_TOKEN,
  });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await p?.close();
});

describe('an admin with Redis, every table and both tokens, without the workers key', () => {
  it('cannot recover a visitor address by brute force, nor link the visitor across two days', async () => {
    const now = Date.now();
    const ctx = (ip: string, ua: string, receivedAt: number) => ({ site: 'demo', ip, userAgent: ua, receivedAt });
    // Today through the collector; yesterday as a backlog crossing midnight would bring it (yesterday's salt is live).
    const page = (path: string) => batch([EventBuilder.pageview(`http://localhost${path}`)]).events;
    expect((await p.post(batch([EventBuilder.pageview('http://localhost/products/usb-c-65w')]), { 'X-Forwarded-For': VICTIM_IP, 'User-Agent': VICTIM_UA })).status).toBe(202);
    await p.app.collector.producer.submit({ ctx: ctx(VICTIM_IP, VICTIM_UA, now - DAY), events: page('/cart') });
    // Neighbours in the same /24 with other browsers.
    for (const [i, ua] of [chromeUa('Macintosh; Intel Mac OS X 10_15_7', 130), chromeUa('Linux; Android 10; K', 129, true)].entries()) {
      await p.app.collector.producer.submit({ ctx: ctx(`203.0.113.${10 + i}`, ua, now), events: page('/') });
    }
    expect(await p.waitForCount('SELECT count() n FROM events', 4)).toBe(4);

    // The loot.
    const rows = await p.rows<{ day: string; site: string; ip_prefix: string; visitor_id: string }>(
      'SELECT DISTINCT toString(toDate(ts)) AS day, site, ip_prefix, toString(visitor_id) AS visitor_id FROM events ORDER BY day',
    );
    expect(rows.map((r) => r.day).filter((d, i, a) => a.indexOf(d) === i)).toHaveLength(2);
    const fromRedis = await redisLoot(redis, p.prefix);
    expect(fromRedis.some((b) => b.length === 32), 'the day salts are in the dump').toBe(true);
    const held = [...fromRedis, ...dataDirSecrets(p.dataDir), Buffer.from(ANALYST_TOKEN), Buffer.from(ADMIN_TOKEN), Buffer.from(keys.publicKey, 'base64')];
    // Nothing secret of the workers lies beside the data.
    expect(fs.existsSync(path.join(p.dataDir, 'keys'))).toBe(false);
    // Every key the admin can make with the project's own derivation: each held value as a salt on its own (the
    // old scheme), and each 32-byte value under each held secret, also read as a private key (workerIdSecret).
    const salts = held.filter((b) => b.length === 32);
    const secrets = [...held, ...salts.map((b) => workerIdSecret(b.toString('base64')))];
    const adminKeys = [...held, ...salts.flatMap((salt) => secrets.map((secret) => dayIdKey(salt, secret)))];

    const t0 = performance.now();
    const found = bruteForce(rows, adminKeys);
    const ms = performance.now() - t0;
    console.log(`admin brute force: ${rows.length} visitor-days, ${adminKeys.length} candidate keys, ${found.length} recovered in ${ms.toFixed(0)} ms`, found);
    expect(found.filter((f) => f.ip === VICTIM_IP), 'the victim address recovered').toEqual([]);
    expect(found).toEqual([]);
    expect(linkedDays(found)).toEqual([]);

    // Control: with the workers' private key (which the admin does not have) the same search finds the victim on
    // both days and links them; so the search is right and the key is the whole defence.
    const withKey = bruteForce(
      rows,
      salts.map((salt) => dayIdKey(salt, workerIdSecret(keys.privateKey))),
    );
    expect(withKey.filter((f) => f.ip === VICTIM_IP).map((f) => f.ua)).toEqual([VICTIM_UA, VICTIM_UA]);
    expect(linkedDays(withKey)).toHaveLength(1);
  });
});
