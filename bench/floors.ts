/** The CPU floor (anonymisation alone, one core) and the storage floor (direct batched inserts). */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { anonymiseRequest } from '../src/anonymise/pipeline.js';
import { createDeviceParser } from '../src/anonymise/device.js';
import type { AnonymiseConfig, EventRow } from '../src/anonymise/types.js';
import type { CollectedRequest } from '../src/wire/types.js';
import { openStore } from '../src/store/client.js';
import { EventInserter } from '../src/store/inserter.js';
import { migrate } from '../src/store/migrate.js';
import { tempDir } from '../test/support/tmp.js';
import { bodyPool } from './load.js';

const SITE = 'bench';
const HOST = 'shop.bench';
const config: AnonymiseConfig = { ipv4Prefix: 24, ipv6Prefix: 48, sites: { [SITE]: [HOST] }, queryAllowlist: [] };

function requests(n: number, uaVariety: 'pool' | 'unique'): CollectedRequest[] {
  const pool = bodyPool(SITE, HOST, 20, 400);
  return Array.from({ length: n }, (_, i) => {
    const e = pool[i % pool.length]!;
    const ua = uaVariety === 'unique' ? `${e.headers['user-agent']} Build/${i}` : e.headers['user-agent']!;
    return {
      ctx: { site: SITE, ip: e.headers['x-forwarded-for']!, userAgent: ua, receivedAt: Date.now() },
      events: (JSON.parse(e.body) as { events: CollectedRequest['events'] }).events,
    };
  });
}

/** Events/s of the anonymisation steps on one core: warm UA cache, and cold (every UA new). */
export async function anonymiseFloor(seconds: number): Promise<{ warm: number; cold: number }> {
  const salt = randomBytes(32);
  const measure = (reqs: CollectedRequest[], device: ReturnType<typeof createDeviceParser>, budgetMs: number) => {
    let events = 0;
    const t0 = performance.now();
    let i = 0;
    while (performance.now() - t0 < budgetMs) {
      const r = reqs[i++ % reqs.length]!;
      events += anonymiseRequest(r, salt, { config, device }).rows.length;
    }
    return events / ((performance.now() - t0) / 1000);
  };
  const warmDevice = createDeviceParser({ cacheSize: 10_000 });
  const warmReqs = requests(2000, 'pool');
  measure(warmReqs, warmDevice, 300);
  const warm = measure(warmReqs, warmDevice, (seconds * 1000) / 2);
  const cold = measure(requests(20_000, 'unique'), createDeviceParser({ cacheSize: 1 }), (seconds * 1000) / 2);
  return { warm, cold };
}

/** Rows/s of direct batched inserts of the same anonymised rows into the same schema (embedded). */
export async function storageFloor(rows: number): Promise<{ rowsPerSecond: number }> {
  const dir = tempDir('storage-floor');
  const store = await openStore({ dataDir: dir, url: process.env.CLICKHOUSE_URL, database: 'bench_floor', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  try {
    await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
    const device = createDeviceParser({ cacheSize: 10_000 });
    const salt = randomBytes(32);
    const all: EventRow[] = [];
    for (const r of requests(Math.ceil(rows / 20), 'pool')) for (const row of anonymiseRequest(r, salt, { config, device }).rows) all.push(row);
    const inserter = new EventInserter(store.client, { batchRows: 20_000, flushMs: 1_000_000, rawInsert: store.rawInsert });
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += 20_000) pending.push(inserter.add(all.slice(i, i + 20_000), `floor-${i}`));
    await Promise.all(pending);
    return { rowsPerSecond: all.length / ((performance.now() - t0) / 1000) };
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
