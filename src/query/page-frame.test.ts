/**
 * GET /dashboard/page (page-frame.ts) against a real HTTP server standing in
 * for a shop: only the configured origin is fetched, only paths, redirects
 * only within it; the page comes back under a policy that lets it send
 * nothing, with our <base> and layout script first in its head; and a page
 * that cannot be had is a document that says so.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPageFrameRouter, framedHtml, framePolicy, pageUrl } from './page-frame.js';

let shop: http.Server;
let dashboard: http.Server;
let shopOrigin = '';
let dashboardUrl = '';
const shopHits: string[] = [];

beforeAll(async () => {
  shop = http.createServer((req, res) => {
    shopHits.push(req.url ?? '');
    if (req.url === '/old') return void res.writeHead(302, { Location: '/products/hub' }).end();
    if (req.url === '/away') return void res.writeHead(302, { Location: 'http://example.org/' }).end();
    if (req.url === '/image.png') return void res.writeHead(200, { 'Content-Type': 'image/png' }).end('png');
    if (req.url === '/huge') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return void res.end('x'.repeat(5 * 1024 * 1024));
    }
    if (req.url?.startsWith('/products/')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'X-Frame-Options': 'DENY', 'Set-Cookie': 'shop=1' });
      return void res.end(`<!doctype html><html lang="en"><head><title>Hub</title><link rel="stylesheet" href="/s.css"></head><body><h1>Hub ${req.url}</h1></body></html>`);
    }
    res.writeHead(404, { 'Content-Type': 'text/html' }).end('<p>not here</p>');
  });
  await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
  shopOrigin = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
  const app = express();
  app.use(createPageFrameRouter((site) => (site === 'shop' ? shopOrigin : undefined)));
  dashboard = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => dashboard.once('listening', r));
  dashboardUrl = `http://127.0.0.1:${(dashboard.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => dashboard?.close(r));
  await new Promise((r) => shop?.close(r));
});

const page = (site: string, path: string) => fetch(`${dashboardUrl}/dashboard/page?site=${encodeURIComponent(site)}&path=${encodeURIComponent(path)}`);

describe('pageUrl', () => {
  it.each([
    ['/products/hub?sku=a', 'https://shop.example/products/hub?sku=a'],
    ['//evil.example/x', undefined],
    ['https://evil.example/', undefined],
    ['products', undefined],
    ['/a b', undefined],
    ['/a\\b', undefined],
  ])('%j → %j', (path, want) => {
    expect(pageUrl('https://shop.example', path)?.href).toBe(want);
  });

  it('refuses a path longer than a URL may be', () => {
    expect(pageUrl('https://shop.example', '/' + 'x'.repeat(3000))).toBeUndefined();
  });
});

describe('framedHtml and framePolicy', () => {
  it('puts our <base> and layout script first in the head, or makes a head', () => {
    const url = new URL('https://shop.example/p/x');
    const out = framedHtml('<!doctype html><html><head class="h"><base href="/other/"><title>t</title></head><body></body></html>', url);
    expect(out.indexOf('<base href="https://shop.example/p/x">')).toBeLessThan(out.indexOf('<base href="/other/">'));
    expect(out).toMatch(/<head class="h"><base href="https:\/\/shop\.example\/p\/x"><script>\(function \(\) \{/);
    expect(framedHtml('<p>bare</p>', url)).toMatch(/^<head><base href="https:\/\/shop.example\/p\/x"><script>[\s\S]*<\/script><\/head><p>bare<\/p>$/);
    expect(framedHtml('<html><p>x</p>', new URL('https://shop.example/"><script>'))).not.toContain('"><script>"');
  });

  it('lets the page run its scripts but send nothing, frame nothing, submit nothing, and live in an opaque origin', () => {
    const p = framePolicy('https://shop.example');
    expect(p).toMatch(/^sandbox allow-scripts;/);
    expect(p).not.toMatch(/allow-same-origin|allow-forms|allow-popups|allow-top-navigation/);
    for (const d of ["connect-src 'none'", "frame-src 'none'", "form-action 'none'", "default-src 'none'", "frame-ancestors 'self'", "script-src https://shop.example 'unsafe-inline'"]) expect(p).toContain(d);
  });
});

describe('GET /dashboard/page', () => {
  it('serves the live page under the frame policy, without the shop\'s cookies or framing rules', async () => {
    const res = await page('shop', '/products/hub');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(framePolicy(shopOrigin));
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('x-frame-options')).toBeNull();
    const html = await res.text();
    expect(html).toContain(`<base href="${shopOrigin}/products/hub">`);
    expect(html).toContain('anonHeatmapPage');
    expect(html).toContain('<h1>Hub /products/hub</h1>');
  });

  it('follows a redirect within the origin, and not one away from it', async () => {
    expect(await (await page('shop', '/old')).text()).toContain('<h1>Hub /products/hub</h1>');
    expect(await (await page('shop', '/away')).text()).toContain('redirected away from the page origin');
  });

  it('answers with a document that says why when there is no page to frame', async () => {
    const said = async (site: string, path: string) => JSON.parse(/unavailable: ("(?:[^"\\]|\\.)*")/.exec(await (await page(site, path)).text())![1]!) as string;
    expect(await said('shop', '/missing')).toBe('the page answered 404 (text/html)');
    expect(await said('shop', '/image.png')).toBe('the page answered 200 (image/png)');
    expect(await said('shop', '/huge')).toBe('the page is larger than 4 MiB');
    expect(await said('other', '/products/hub')).toBe('no page origin is configured for this site (SITES "pages")');
  });

  it('fetches nothing but a path on the configured origin', async () => {
    const before = shopHits.length;
    for (const path of ['//evil.example/', 'http://evil.example/', 'x']) expect((await page('shop', path)).status).toBe(400);
    expect(shopHits.length).toBe(before);
  });
});
