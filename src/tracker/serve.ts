/**
 * The tracker script (GET /t.js) and the demo storefront (GET /demo/).
 * The script is built once per process by esbuild and served with a content
 * hash ETag; it may be embedded on any origin (CORP cross-origin).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { buildTracker } from '../tracker/bundle.js';

const DEMO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/storefront');

export function createTrackerRouter(opts: { demo: boolean }): Router {
  const router = express.Router();
  router.get('/t.js', async (req, res) => {
    const t = await buildTracker();
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      ETag: `"${t.etag}"`,
      'Cache-Control': 'public, max-age=300',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.headers['if-none-match'] === `"${t.etag}"`) {
      res.status(304).end();
      return;
    }
    res.status(200).send(t.code);
  });
  if (opts.demo) {
    router.get('/', (_req, res) => res.redirect('/demo/'));
    router.use('/demo', express.static(DEMO_DIR, { extensions: ['html'], index: 'index.html' }));
  }
  return router;
}
