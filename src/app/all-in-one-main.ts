/**
 * `npm start`: the all-in-one (src/app/all-in-one.ts); prints where everything is. Its collector runs in a
 * thread of its own unless COLLECTOR_THREAD=false. If that thread dies, the process does not stay half
 * alive: the worker drains what it holds (within SHUTDOWN_GRACE_MS) and the process exits with code 1, for
 * its supervisor to restart it.
 */
import { banner, startAllInOne, startThreadedAllInOne, type ThreadedAllInOne } from './all-in-one.js';
import { runMain } from './startup.js';

void runMain('all-in-one', async ({ config, log, metrics }) => {
  if (!config.collectorThread) {
    const app = await startAllInOne(config, log, { metrics });
    process.stdout.write(banner(app) + '\n');
    return app;
  }
  let app: ThreadedAllInOne | undefined;
  const onCollectorDeath = (err: Error) => {
    log.fatal({ err: { name: err.name, message: err.message } }, 'collector thread died; draining the worker, then exiting');
    setTimeout(() => process.exit(1), config.shutdownGraceMs).unref();
    void (app?.close() ?? Promise.resolve()).finally(() => process.exit(1));
  };
  app = await startThreadedAllInOne(config, log, { metrics, onCollectorDeath });
  process.stdout.write(banner(app) + '\n');
  return app;
});
