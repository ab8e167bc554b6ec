/**
 * The tracker script (GET /t.js) and the demo storefront (GET /demo/).
 * The script is built and compressed once per process (src/tracker/bundle.ts)
 * and served as brotli, gzip or plain text by the request's Accept-Encoding,
 * each with a strong ETag of its own (the content hash and the coding: a
 * strong validator names one exact representation), `Vary: Accept-Encoding`
 * and a cache lifetime: an hour fresh, then a day served stale while the
 * browser revalidates (a shop page keeps loading it at once; a new version
 * reaches visitors within about an hour). It may be embedded on any origin
 * (CORP cross-origin).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { buildTracker } from '../tracker/bundle.js';

const DEMO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/storefront');

/** How long a browser or proxy may use /t.js without asking, and serve it stale while it asks. */
export const TRACKER_CACHE_CONTROL = 'public, max-age=3600, stale-while-revalidate=86400';

/**
 * The coding to answer with, from an Accept-Encoding header: the one the client weighs highest (q-values, `*`
 * for any other), brotli before gzip when it weighs them the same (browsers list gzip first but mean either),
 * none when it accepts neither.
 */
export function trackerEncoding(header: string | undefined): 'br' | 'gzip' | 'identity' {
  const q = new Map<string, number>();
  for (const part of (header ?? '').slice(0, 1024).split(',')) {
    const [name = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const w = params.find((p) => p.startsWith('q='));
    q.set(name, w ? Number(w.slice(2)) || 0 : 1);
  }
  const weight = (c: string) => q.get(c) ?? q.get('*') ?? 0;
  const br = weight('br');
  const gzip = weight('gzip');
  return br > 0 && br >= gzip ? 'br' : gzip > 0 ? 'gzip' : 'identity';
}

export function createTrackerRouter(opts: { demo: boolean }): Router {
  const router = express.Router();
  router.get('/t.js', async (req, res) => {
    const t = await buildTracker();
    const coding = trackerEncoding(req.headers['accept-encoding']);
    const etag = `"${t.etag}${coding === 'identity' ? '' : `-${coding}`}"`;
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      ETag: etag,
      'Cache-Control': TRACKER_CACHE_CONTROL,
      Vary: 'Accept-Encoding',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
    });
    // If-None-Match may list several validators (a cache holding more than one representation).
    const known = (req.headers['if-none-match'] ?? '').split(',').map((v) => v.trim());
    if (known.includes(etag) || known.includes('*')) {
      res.status(304).end();
      return;
    }
    if (coding !== 'identity') res.set('Content-Encoding', coding);
    res.status(200).send(coding === 'br' ? t.brotli : coding === 'gzip' ? t.gzip : t.code);
  });
  if (opts.demo) {
    router.get('/', (_req, res) => res.redirect('/demo/'));
    router.use('/demo', express.static(DEMO_DIR, { extensions: ['html'], index: 'index.html' }));
  }
  return router;
}
