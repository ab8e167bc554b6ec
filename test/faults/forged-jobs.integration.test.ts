/**
 * The worker trusts nothing it opens (issue 17). The attacker holds what
 * anyone with access to Redis (or to a collector's public sealing key, which
 * every collector has) holds: write access to the queue and `seal.pub`. They
 *   - forge jobs: 20,000 events in one request (the wire allows 50), a receive
 *     time in the year 2100 (outliving every TTL), an unknown site, a site
 *     named `__proto__`, a client address in a legacy form;
 *   - replay a waiting job's sealed data five times (new nonce, same nonce,
 *     no nonce), which used to inflate the aggregates;
 *   - write jobs whose data or options BullMQ cannot parse, which used to sit
 *     in `active` forever.
 * What must hold: nothing of theirs in `events`, aggregates equal to the
 * distinct stored events, every bad job dead-lettered (or, unparseable,
 * removed) with its reason within seconds, the worker healthy throughout.
 * And with collector signing identities, a worker takes only their jobs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealJob, type SealedJobData } from '../../src/queue/job.js';
import { defaultJobOptions } from '../../src/queue/producer.js';
import { Sealer } from '../../src/queue/seal.js';
import { createJobSigner, generateSigningKeyPair } from '../../src/queue/signing.js';
import type { CollectedRequest, WireEvent } from '../../src/wire/types.js';
import { BROWSER_UA, EventBuilder, mixedBatch, randomId } from '../support/builders.js';
import { createFaultStack, QUEUE, sleep, until, type FaultStack } from '../support/fault-stack.js';

let s: FaultStack;
let queue: Queue<SealedJobData>;
let sealer: Sealer;

const ctx = (over: Partial<CollectedRequest['ctx']> = {}): CollectedRequest['ctx'] => ({
  site: 'demo',
  ip: '198.51.100.23',
  userAgent: BROWSER_UA,
  receivedAt: Date.now(),
  ...over,
});
const events = (n: number, path = 'forged'): WireEvent[] => Array.from({ length: n }, () => EventBuilder.pageview(`http://localhost/${path}`).build());
/** A job sealed with the workers' public key, as anyone holding seal.pub can make one. */
const forge = (reqs: CollectedRequest[]) => queue.add('collected', sealJob(sealer, reqs), defaultJobOptions(3));

const failedReasons = async (): Promise<Map<string, string>> => {
  const ids = await s.redis.zrange(`${s.prefix}:${QUEUE}:failed`, 0, -1);
  const out = new Map<string, string>();
  for (const id of ids) out.set(id, (await s.redis.hget(s.jobKey(id), 'failedReason')) ?? '');
  return out;
};

beforeAll(async () => {
  s = await createFaultStack('forged', { GROUP_COMMIT_MS: '0', JOB_ATTEMPTS: '3' });
  await s.startCollector();
  queue = new Queue<SealedJobData>(QUEUE, { connection: s.redis, prefix: s.prefix });
  queue.on('error', () => {});
  // The development key pair the collector generated: the public half is what every collector holds.
  sealer = new Sealer(fs.readFileSync(path.join(s.dataDir, 'keys', 'seal.pub'), 'utf8').trim());
}, 120_000);

afterAll(async () => {
  await queue?.close();
  await s?.close();
});

describe('forged, replayed and malformed jobs', () => {
  const forged = new Map<string, string>();
  const replays: string[] = [];
  const malformed: string[] = [];
  let original = '';

  it('are written into the queue while no worker runs (the attack)', async () => {
    // Legitimate traffic first: three requests through the real collector, waiting as jobs.
    for (let i = 0; i < 3; i++) expect((await s.send(mixedBatch(5))).status).toBe(202);
    const waiting = await s.redis.lrange(`${s.prefix}:${QUEUE}:wait`, 0, -1);
    expect(waiting).toHaveLength(3);
    original = waiting[0]!;

    forged.set((await forge([{ ctx: ctx(), events: events(20_000, 'oversized') }])).id!, 'too many events');
    forged.set((await forge([{ ctx: ctx({ receivedAt: Date.UTC(2100, 0, 1) }), events: events(2, 'future') }])).id!, 'received in the future');
    forged.set((await forge([{ ctx: ctx({ site: 'nosuchsite' }), events: events(2, 'unknown-site') }])).id!, 'unknown site');
    forged.set((await forge([{ ctx: ctx({ site: '__proto__' }), events: events(2, 'proto') }])).id!, 'unknown site');
    forged.set((await forge([{ ctx: ctx({ ip: '0xc0.168.1.1' }), events: events(2, 'legacy-ip') }])).id!, 'client address');
    forged.set((await forge([{ ctx: ctx(), events: [{ ...events(1, 'evil-event')[0]!, url: 'https://evil.example/x' }] }])).id!, 'invalid event');
    forged.set((await forge([{ ctx: { ...ctx(), extra: 'x' } as CollectedRequest['ctx'], events: events(1, 'extra-key') }])).id!, 'request context');

    // Replays: the sealed data of a waiting job, added again with a new nonce, the same nonce, and none.
    const data = JSON.parse((await s.redis.hget(s.jobKey(original), 'data'))!) as SealedJobData;
    for (const copy of [{ ...data, nonce: randomId(22) }, { ...data, nonce: randomId(22) }, data, data, { s: data.s, n: data.n }]) {
      replays.push((await queue.add('collected', copy as SealedJobData, defaultJobOptions(3))).id!);
    }

    // Malformed: jobs whose data or options are not JSON at all.
    for (const field of ['data', 'opts'] as const) {
      const id = (await forge([{ ctx: ctx(), events: events(1, `malformed-${field}`) }])).id!;
      await s.redis.hset(s.jobKey(id), field, '{"not json');
      malformed.push(id);
    }
  }, 60_000);

  it('change nothing: only the legitimate events are stored, aggregates equal them, every bad job is dead-lettered with its reason', async () => {
    const t0 = Date.now();
    await s.startWorker();
    const legit = s.acknowledged;
    const landed = await s.waitForStored(legit, 30_000);
    expect(landed.n).toBe(legit);

    // Forged and replayed jobs: dead letters with their reason, within seconds.
    const want = forged.size + replays.length;
    const reasons = await until(failedReasons, (m) => m.size >= want, 20_000);
    const elapsed = Date.now() - t0;
    expect(reasons.size).toBe(want);
    for (const [id, reason] of forged) expect(reasons.get(id), `forged job ${id}`).toMatch(new RegExp(reason));
    // Of the original and its five copies exactly one is stored (whichever ran first); the other five are replays.
    const copies = [original, ...replays];
    const replayed = copies.filter((id) => /replay/.test(reasons.get(id) ?? ''));
    expect(replayed).toHaveLength(5);
    expect(elapsed).toBeLessThan(25_000);

    // Unparseable jobs leave `active` and `wait`, and their hashes are gone.
    const gone = await until(
      async () => Promise.all(malformed.map((id) => s.redis.exists(s.jobKey(id)))),
      (e) => e.every((x) => x === 0),
      20_000,
    );
    expect(gone).toEqual([0, 0]);
    const counts = await s.queueCounts();
    expect(counts.active + counts.wait).toBe(0);

    // Nothing of the attacker's reached ClickHouse, and the aggregates count each stored event once.
    await sleep(1500);
    expect((await s.stored("NOT startsWith(path, '/products/p')")).n).toBe(0);
    expect(await s.tally()).toEqual({ count: legit, distinct: legit, aggregated: legit });

    // Counted by reason on the worker's /metrics.
    const scrape = await s.scrape(s.workerUrl);
    expect(scrape('anon_jobs_rejected_total', 'reason="replay"')).toBe(5);
    expect(scrape('anon_jobs_rejected_total', 'reason="too_many_events"')).toBe(1);
    expect(scrape('anon_jobs_rejected_total', 'reason="unknown_site"')).toBe(2);
    expect(scrape('anon_jobs_rejected_total', 'reason="future"')).toBe(1);
    expect(scrape('anon_jobs_malformed_total')).toBe(2);
    // Said in the log by id and reason, never by content.
    const log = JSON.stringify(s.workerLog());
    expect(log).not.toContain('not json');
    expect(log).not.toContain(BROWSER_UA);
  }, 90_000);

  it('leave the worker healthy: new traffic still lands', async () => {
    expect((await fetch(`${s.workerUrl}/healthz`)).status).toBe(200);
    expect((await s.send(mixedBatch(4))).status).toBe(202);
    const landed = await s.waitForStored(s.acknowledged, 20_000);
    expect(landed.n).toBe(s.acknowledged);
    await sleep(1000);
    expect(await s.tally()).toEqual({ count: s.acknowledged, distinct: s.acknowledged, aggregated: s.acknowledged });
  }, 60_000);
});

describe('collectors with a signing identity (COLLECTOR_ID, TRUSTED_COLLECTORS)', () => {
  let t: FaultStack;
  let q: Queue<SealedJobData>;

  afterAll(async () => {
    await q?.close();
    await t?.close();
  });

  it('a worker that trusts only known collectors stores their jobs and refuses what anyone else sealed', async () => {
    const c1 = generateSigningKeyPair();
    const intruder = generateSigningKeyPair();
    t = await createFaultStack('signed', { GROUP_COMMIT_MS: '0', JOB_ATTEMPTS: '3' });
    await t.startCollector({ COLLECTOR_ID: 'c1', COLLECTOR_SIGNING_KEY: c1.privateKey });
    await t.startWorker({ TRUSTED_COLLECTORS: JSON.stringify({ c1: c1.publicKey }) });
    for (let i = 0; i < 3; i++) expect((await t.send(mixedBatch(5))).status).toBe(202);
    expect((await t.waitForStored(t.acknowledged, 20_000)).n).toBe(t.acknowledged);

    // What someone holding seal.pub (and even the id "c1") can make: unsigned, or signed with a key of their own.
    q = new Queue<SealedJobData>(QUEUE, { connection: t.redis, prefix: t.prefix });
    q.on('error', () => {});
    const pub = new Sealer(fs.readFileSync(path.join(t.dataDir, 'keys', 'seal.pub'), 'utf8').trim());
    const reqs = () => [{ ctx: ctx(), events: events(2, 'signed-forgery') }];
    const unsigned = (await q.add('collected', sealJob(pub, reqs()), defaultJobOptions(3))).id!;
    const impostor = (await q.add('collected', sealJob(pub, reqs(), undefined, createJobSigner('c1', intruder.privateKey)), defaultJobOptions(3))).id!;
    const stranger = (await q.add('collected', sealJob(pub, reqs(), undefined, createJobSigner('c9', intruder.privateKey)), defaultJobOptions(3))).id!;

    const ids = await until(async () => t.redis.zrange(`${t.prefix}:${QUEUE}:failed`, 0, -1), (f) => f.length >= 3, 20_000);
    expect(ids.sort()).toEqual([unsigned, impostor, stranger].sort());
    expect(await t.redis.hget(t.jobKey(unsigned), 'failedReason')).toMatch(/unsigned/);
    expect(await t.redis.hget(t.jobKey(impostor), 'failedReason')).toMatch(/bad signature/);
    expect(await t.redis.hget(t.jobKey(stranger), 'failedReason')).toMatch(/unknown collector/);
    await sleep(1000);
    expect(await t.tally()).toEqual({ count: t.acknowledged, distinct: t.acknowledged, aggregated: t.acknowledged });
  }, 90_000);
});
