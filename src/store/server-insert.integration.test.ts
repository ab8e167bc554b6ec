/**
 * The insert path in server mode (CLICKHOUSE_URL), against a stand-in for the
 * ClickHouse server's HTTP interface (no ClickHouse server can run here; the
 * embedded engine has no HTTP side): what reaches the server is one streamed
 * INSERT per batch, its deduplication token in the statement, the rows as
 * JSONCompactEachRow; the body is not compressed on loopback (compressing
 * only costs the CPU the same machine's server needs) and is gzip-compressed
 * across hosts (where the network is the limit).
 */
import http from 'node:http';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { row } from '../../test/support/rows.js';
import { serverClient } from './client.js';
import { EVENT_COLUMNS, EventInserter, encodeRows } from './inserter.js';

interface Seen {
  query: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const seen: Seen[] = [];
let server: http.Server;
let port: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ query: new URL(req.url!, 'http://x').searchParams.get('query') ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-ClickHouse-Summary': '{"written_rows":"0"}' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  port = (server.address() as { port: number }).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const store = (url: string) => ({
  url,
  database: 'analytics',
  username: 'ingest',
  password: 'secret',
  dataDir: '',
  retentionDays: 180,
  aggregateRetentionMonths: 25,
  kAnonymity: 5,
  migrateOnStart: false,
});

async function insertThrough(url: string) {
  const client = serverClient(store(url));
  try {
    const ins = new EventInserter(client, { batchRows: 1000, flushMs: 10 });
    const a = [row({ path: '/a' }), row({ path: '/b' })];
    const b = [row({ path: '/c' })];
    seen.length = 0;
    await Promise.all([ins.add(a, 'job-a'), ins.add(b, 'job-b')]);
    return { rows: [...a, ...b], seen: [...seen] };
  } finally {
    await client.close();
  }
}

function checkInsert(s: Seen, rows: ReturnType<typeof row>[], body: Buffer) {
  expect(s.query).toMatch(new RegExp(`^INSERT INTO events \\(${EVENT_COLUMNS.join(', ')}\\) SETTINGS insert_deduplication_token = '[0-9a-f]{32}' FORMAT JSONCompactEachRow`));
  // Streamed: no length known up front.
  expect(s.headers['transfer-encoding']).toBe('chunked');
  expect(s.headers['content-length']).toBeUndefined();
  expect(body.toString('utf8')).toBe(encodeRows(rows));
}

describe('server-mode insert', () => {
  it('on loopback: one streamed INSERT for the batch, its rows uncompressed', async () => {
    const { rows, seen: reqs } = await insertThrough(`http://127.0.0.1:${port}`);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.headers['content-encoding']).toBeUndefined();
    checkInsert(reqs[0]!, rows, reqs[0]!.body);
  });

  // Another host: this machine's own non-loopback address, so the request still reaches the stand-in.
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
  it.skipIf(!external)('across hosts: the same INSERT, its body gzip-compressed', async () => {
    const { rows, seen: reqs } = await insertThrough(`http://${external}:${port}`);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.headers['content-encoding']).toBe('gzip');
    checkInsert(reqs[0]!, rows, gunzipSync(reqs[0]!.body));
  });
});
