/** `npm run dlq -- list|retry [id…]|purge`: inspect and replay the dead-letter queue (sealed jobs). */
import { loadConfig } from '../src/config/config.js';
import { DeadLetters } from '../src/queue/dlq.js';
import { producerConnection, waitReady } from '../src/queue/redis.js';

const [cmd, ...ids] = process.argv.slice(2);
if (!cmd || !['list', 'retry', 'purge'].includes(cmd)) {
  console.error('usage: npm run dlq -- list | retry [job-id …] | purge');
  process.exit(2);
}
const config = loadConfig();
const redis = producerConnection(config.redis);
redis.on('error', () => {});
try {
  await waitReady(redis, config.redis);
  const dlq = new DeadLetters(redis, config.redis.queueName, config.redis.prefix);
  if (cmd === 'list') {
    const list = await dlq.list(1000);
    console.log(`${list.length} dead letter(s)`);
    for (const d of list) console.log(`${d.id}\t${new Date(d.failedAt).toISOString()}\tattempts=${d.attempts}\tevents=${d.events}\t${d.reason}`);
  } else if (cmd === 'retry') {
    console.log(`moved ${await dlq.retry(ids)} job(s) back to the queue`);
  } else {
    console.log(`purged ${await dlq.purge(0)} dead letter(s)`);
  }
  await dlq.close();
} catch (err) {
  console.error(`dlq: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
