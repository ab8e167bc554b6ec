/**
 * GET /dashboard: a read-only page (plain HTML, SVG, no CDN) that reads the
 * analyst views through POST /query with the analyst token the user types,
 * and draws heatmaps over the live page (GET /dashboard/page, page-frame.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { createPageFrameRouter, type PageOrigins } from './page-frame.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'dashboard');

export function createDashboardRouter(pageOrigins: PageOrigins = () => undefined, log?: { warn: (o: object, m: string) => void }): Router {
  const router = express.Router();
  // The framed page sets its own, stricter policy (page-frame.ts); it is not one of the dashboard's files.
  router.use(createPageFrameRouter(pageOrigins, log));
  router.use('/dashboard', (_req, res, next) => {
    // The token lives in this tab only; no third-party content may load.
    res.set('Content-Security-Policy', "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:");
    res.set('Referrer-Policy', 'no-referrer');
    next();
  });
  router.use('/dashboard', express.static(DIR, { index: 'index.html' }));
  return router;
}
