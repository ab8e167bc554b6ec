/** `npm run migrate`: applies schemas/NNN_*.sql in order (also done at every start). */
import { loadConfig } from '../src/config/config.js';
import { openStore } from '../src/store/client.js';
import { migrate, migrationVars } from '../src/store/migrate.js';

try {
  const config = loadConfig();
  const store = await openStore(config.store);
  const n = await migrate(store.client, migrationVars(config.store));
  console.log(`migrations: ${n} applied, schema up to date (${store.embedded ? `embedded ClickHouse in ${store.dataPath}` : 'ClickHouse server'})`);
  await store.close();
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  process.exit(1);
}
