/**
 * GET /t.js: brotli, gzip or plain by Accept-Encoding (q-values honoured), a
 * strong ETag per representation, a 304 for a validator the client holds, a
 * cache lifetime, Vary. Raw HTTP (node:http), so the bytes on the wire are
 * checked, not what a client decoded from them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTracker } from './bundle.js';
import { createTrackerRouter, TRACKER_CACHE_CONTROL } from './serve.js';

let server: http.Server;
let port: number;

beforeAll(async () => {
  const app = express();
  app.use(createTrackerRouter({ demo: false }));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function get(headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/t.js', method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /t.js', () => {
  it.each([
    ['gzip, deflate, br, zstd', 'br'],
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, gzip', 'gzip'],
    ['GZIP;Q=0.8', 'gzip'],
    ['deflate', 'identity'],
    ['identity', 'identity'],
    ['', 'identity'],
  ])('Accept-Encoding %j: %s', async (accept, coding) => {
    const { code } = await buildTracker();
    const res = await get(accept ? { 'Accept-Encoding': accept } : {});
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(coding === 'identity' ? undefined : coding);
    expect(res.headers.vary).toMatch(/Accept-Encoding/);
    expect(res.headers['cache-control']).toBe(TRACKER_CACHE_CONTROL);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const decoded = coding === 'br' ? brotliDecompressSync(res.body) : coding === 'gzip' ? gunzipSync(res.body) : res.body;
    expect(decoded.toString('utf8')).toBe(code);
    if (coding !== 'identity') expect(res.body.length).toBeLessThan(code.length / 2);
    // A strong validator (no W/), one per representation.
    expect(res.headers.etag).toMatch(coding === 'identity' ? /^"[\w-]{22}"$/ : new RegExp(`^"[\\w-]{22}-${coding}"$`));
  });

  it('answers 304 to a validator the client holds, and 200 with the body to another representation', async () => {
    const br = await get({ 'Accept-Encoding': 'br' });
    const gz = await get({ 'Accept-Encoding': 'gzip' });
    expect(new Set([br.headers.etag, gz.headers.etag]).size).toBe(2);
    const again = await get({ 'Accept-Encoding': 'br', 'If-None-Match': br.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(br.headers.etag);
    expect((await get({ 'Accept-Encoding': 'br', 'If-None-Match': `"x", ${br.headers.etag}` })).status).toBe(304);
    // The gzip validator does not stand for the brotli bytes.
    const other = await get({ 'Accept-Encoding': 'br', 'If-None-Match': gz.headers.etag! });
    expect(other.status).toBe(200);
    expect(other.headers['content-encoding']).toBe('br');
  });

  it('answers HEAD with the headers of the representation and no body', async () => {
    const res = await get({ 'Accept-Encoding': 'gzip' }, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(Number(res.headers['content-length'])).toBe((await buildTracker()).gzip.length);
    expect(res.body.length).toBe(0);
  });
});
