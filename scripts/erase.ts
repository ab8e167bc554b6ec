/**
 * `npm run erase -- --site S --ip A --ua U`: deletes the rows of one visitor
 * (an address and a user agent) on one site for today and yesterday (UTC),
 * the only days whose visitor id can still be computed (src/app/erase.ts,
 * docs/privacy.md "Deletion").
 *
 * Needs what a worker has: Redis (the day salts) and the workers' private
 * sealing key (SEAL_PRIVATE_KEY, or DATA_DIR/keys in development), and a
 * ClickHouse user that may delete (CLICKHOUSE_URL), or, embedded, the data
 * directory: stop `npm start` / `npm run worker` first (one process per
 * directory), run this, start again. Prints counts and days only, never the
 * address or the user agent.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { EraseInputError, eraseVisitor } from '../src/app/erase.js';
import { workerIdSecret, workerSealKey } from '../src/queue/keys.js';
import { producerConnection, waitReady } from '../src/queue/redis.js';
import { openStore } from '../src/store/client.js';

const USAGE = 'usage: npm run erase -- --site SITE --ip ADDRESS --ua "USER AGENT"';

let args: { site?: string; ip?: string; ua?: string };
try {
  args = parseArgs({ options: { site: { type: 'string' }, ip: { type: 'string' }, ua: { type: 'string' } }, strict: true }).values;
} catch (err) {
  console.error(`erase: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (!args.site || !args.ip || !args.ua) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfig();
if (!config.sites[args.site]) {
  console.error(`erase: site ${JSON.stringify(args.site)} is not configured in SITES`);
  process.exit(2);
}
const secret = workerIdSecret(workerSealKey(config, { info: () => {} }));
const redis = producerConnection(config.redis.url);
redis.on('error', () => {});
let store: Awaited<ReturnType<typeof openStore>> | undefined;
try {
  await waitReady(redis, config.redis.url);
  store = await openStore(config.store);
  const days = await eraseVisitor({ client: store.client, redis, prefix: config.redis.prefix, workerSecret: secret }, { site: args.site, ip: args.ip, ua: args.ua });
  let total = 0;
  for (const d of days) {
    if (!d.saltLive) {
      console.log(`${d.day}: the day's salt is gone: no id of that day can be computed any more, its rows are anonymous`);
      continue;
    }
    const n = d.tables.reduce((s, t) => s + t.rows, 0);
    total += n;
    const detail = d.tables.filter((t) => t.rows > 0).map((t) => `${t.table} ${t.rows}`).join(', ');
    console.log(`${d.day}: ${n} row(s) deleted${detail ? ` (${detail})` : ''}`);
  }
  console.log(
    `erased ${total} row(s). Events of this visitor still waiting in the queue are stored after this: run it again once the queue has drained (anon_queue_waiting_jobs = 0).`,
  );
} catch (err) {
  console.error(`erase: ${err instanceof EraseInputError ? err.message : `${(err as Error).name}: ${(err as Error).message}`}`);
  process.exitCode = 1;
} finally {
  await store?.close().catch(() => {});
  redis.disconnect();
}
