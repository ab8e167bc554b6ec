/**
 * `npm run query -- "SELECT …" [--format CSV] [--analyst] [--token TOKEN]`
 * Embedded mode: sends the SQL to POST /query of the running process on its
 * query port (QUERY_URL, default http://127.0.0.1:$QUERY_PORT) with the token
 * given by --token (a named credential: `npm run tokens -- add …`), else the
 * bootstrap admin token (the analyst one with --analyst; development tokens
 * are read from DATA_DIR/tokens.json). A refusal prints the query id an
 * administrator can look up in the audit table. Server mode (CLICKHOUSE_URL
 * set): asks the server directly, read-only.
 */
import { loadConfig } from '../src/config/config.js';
import { resolveTokens } from '../src/query/tokens.js';
import { serverClient } from '../src/store/client.js';

const args = process.argv.slice(2);
let format = 'PrettyCompactMonoBlock';
let analyst = false;
let given: string | undefined;
const sqlParts: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--format') format = args[++i] ?? format;
  else if (args[i] === '--analyst') analyst = true;
  else if (args[i] === '--token') given = args[++i];
  else sqlParts.push(args[i]!);
}
const sql = sqlParts.join(' ').trim();
if (!sql) {
  console.error('usage: npm run query -- "SELECT count() FROM events" [--format CSV] [--analyst] [--token TOKEN]');
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
    const token = given ?? (analyst ? tokens.analyst : (tokens.admin ?? tokens.analyst));
    if (!token) throw new Error('no token: pass --token, or set ADMIN_TOKEN or ANALYST_TOKEN (npm start prints them)');
    const res = await fetch(`${config.http.queryUrl}/query?format=${encodeURIComponent(format)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: sql,
    }).catch((err: Error) => {
      throw new Error(`cannot reach ${config.http.queryUrl}/query (${err.message}); is \`npm start\` running? (set QUERY_URL otherwise)`);
    });
    if (!res.ok) {
      const text = await res.text();
      let msg = text;
      try {
        const body = JSON.parse(text) as { error: string; query_id?: string };
        msg = body.query_id ? `${body.error} (query_id ${body.query_id})` : body.error;
      } catch {}
      throw new Error(`${res.status}: ${msg}`);
    }
    // Streamed as it arrives: a large result is never held whole.
    for await (const chunk of res.body ?? []) process.stdout.write(chunk);
  }
} catch (err) {
  console.error(`query: ${(err as Error).message}`);
  process.exit(1);
}
