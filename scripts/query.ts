/**
 * `npm run query -- "SELECT …" [--format CSV] [--analyst]`
 * Embedded mode: sends the SQL to POST /query of the running process (QUERY_URL,
 * default http://127.0.0.1:$PORT) with ADMIN_TOKEN (or the analyst token with
 * --analyst; dev tokens are read from DATA_DIR/tokens.json). Server mode
 * (CLICKHOUSE_URL set): asks the server directly, read-only.
 */
import { loadConfig } from '../src/config/config.js';
import { resolveTokens } from '../src/query/tokens.js';
import { serverClient } from '../src/store/client.js';

const args = process.argv.slice(2);
let format = 'PrettyCompactMonoBlock';
let analyst = false;
const sqlParts: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--format') format = args[++i] ?? format;
  else if (args[i] === '--analyst') analyst = true;
  else sqlParts.push(args[i]!);
}
const sql = sqlParts.join(' ').trim();
if (!sql) {
  console.error('usage: npm run query -- "SELECT count() FROM events" [--format CSV] [--analyst]');
  process.exit(2);
}

try {
  const config = loadConfig();
  if (config.store.url) {
    const client = serverClient({ ...config.store, url: config.store.url });
    const rs = await client.query({ query: sql, format: format as 'CSV', clickhouse_settings: { readonly: '1' } });
    process.stdout.write(await rs.text());
    await client.close();
  } else {
    const tokens = resolveTokens(config.auth, config.store.dataDir, false);
    const token = analyst ? tokens.analyst : (tokens.admin ?? tokens.analyst);
    if (!token) throw new Error('no token: set ADMIN_TOKEN or ANALYST_TOKEN (npm start prints them)');
    const res = await fetch(`${config.http.queryUrl}/query?format=${encodeURIComponent(format)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: sql,
    }).catch((err: Error) => {
      throw new Error(`cannot reach ${config.http.queryUrl}/query (${err.message}); is \`npm start\` running? (set QUERY_URL otherwise)`);
    });
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error: string }).error;
      } catch {}
      throw new Error(`${res.status}: ${msg}`);
    }
    process.stdout.write(text);
  }
} catch (err) {
  console.error(`query: ${(err as Error).message}`);
  process.exit(1);
}
