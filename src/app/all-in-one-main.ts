/** `npm start`: the all-in-one (src/app/all-in-one.ts); prints where everything is. */
import { banner, startAllInOne } from './all-in-one.js';
import { runMain } from './startup.js';

void runMain('all-in-one', async ({ config, log, metrics }) => {
  const app = await startAllInOne(config, log, { metrics });
  process.stdout.write(banner(app) + '\n');
  return app;
});
