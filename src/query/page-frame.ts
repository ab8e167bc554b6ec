/**
 * GET /dashboard/page?site=S&path=P: the live page a heatmap is drawn over,
 * in the analyst's own browser. Nothing of it is ever captured from visitors:
 * this server fetches the page as an anonymous client from the site's page
 * origin (SITES `pages`; in the all-in-one the demo storefront's own origin),
 * the way the analyst's browser would, and serves it to the dashboard's
 * sandboxed frame.
 *
 * Why through this server and not straight from the shop: the dashboard needs
 * the laid-out page's height and element boxes (to size the frame so the
 * overlay scrolls with the page, to draw the structure outline, to find a
 * clicked element), which a cross-origin frame would not tell it, and the
 * shop's own scripts, the tracker among them, must not send anything while an
 * analyst looks (an analyst's look is not a visit).
 *
 * So the page is served to do nothing else:
 *   - `Content-Security-Policy: sandbox allow-scripts`: the page runs in an
 *     opaque origin (no cookies, no storage, no access to the dashboard, its
 *     token or its origin), cannot submit forms, open windows or navigate the
 *     dashboard; the dashboard's frame carries the same sandbox;
 *   - `connect-src 'none'`: no fetch, XHR, WebSocket or sendBeacon: the
 *     tracker and any other analytics on the page cannot send;
 *   - a `<base>` so that the page's styles, images and scripts load from its
 *     own origin, and a small script of ours (LAYOUT_SCRIPT) that reports the
 *     page's size and element boxes to the dashboard by postMessage.
 * Only the configured origin is ever fetched (the path must be a path), with
 * a time limit, a size limit, redirects followed only within that origin, and
 * a few at a time.
 */
import express, { type Router } from 'express';

/** Largest page fetched, in bytes. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 8000;
const MAX_REDIRECTS = 3;
const MAX_IN_FLIGHT = 4;
/** Structure boxes reported at most (the outline). */
const MAX_OUTLINE = 800;

/** The site's page origin, or undefined when none is known. */
export type PageOrigins = (site: string) => string | undefined;

/**
 * Runs inside the framed page (an opaque origin: it can read the page and
 * nothing else). Reports the document's size and the boxes of the elements
 * that make up its structure, again after late rendering and on resize; and
 * answers the dashboard's question "where are these selectors?".
 */
export const LAYOUT_SCRIPT = `(function () {
  var STRUCTURE = 'header,nav,main,section,article,aside,footer,form,h1,h2,h3,ul,ol,table,a,button,input,select,textarea,label,img,svg,[data-track],[data-track-item]';
  function box(e) { var r = e.getBoundingClientRect(); return [Math.round(r.left + scrollX), Math.round(r.top + scrollY), Math.round(r.width), Math.round(r.height)]; }
  function report() {
    var d = document.documentElement, out = [];
    document.querySelectorAll(STRUCTURE).forEach(function (e) {
      if (out.length >= ${MAX_OUTLINE}) return;
      var b = box(e);
      if (b[2] > 0 && b[3] > 0) out.push([e.localName + (e.classList[0] ? '.' + e.classList[0] : ''), b[0], b[1], b[2], b[3]]);
    });
    parent.postMessage({ anonHeatmapPage: { width: d.clientWidth, height: Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0), outline: out } }, '*');
  }
  addEventListener('message', function (m) {
    var asked = m.source === parent && m.data && m.data.anonHeatmapFind;
    if (!Array.isArray(asked)) return;
    var found = {};
    asked.slice(0, 200).forEach(function (s) { try { var e = typeof s === 'string' && document.querySelector(s); if (e) found[s] = box(e); } catch (err) {} });
    parent.postMessage({ anonHeatmapFound: found }, '*');
  });
  addEventListener('load', function () { report(); setTimeout(report, 400); setTimeout(report, 1500); });
  addEventListener('resize', report);
})();`;

/** `path` as a URL on `origin`, or undefined when it is not a plain path there. */
export function pageUrl(origin: string, path: string): URL | undefined {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || path.length > 2048 || /[\s\\]/.test(path)) return undefined;
  try {
    const u = new URL(path, origin);
    return u.origin === origin ? u : undefined;
  } catch {
    return undefined;
  }
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The page's HTML with our <base> and layout script first in its head. */
export function framedHtml(html: string, url: URL): string {
  const inject = `<base href="${escapeAttr(url.href)}"><script>${LAYOUT_SCRIPT}</script>`;
  const head = /<head\b[^>]{0,2000}>/i.exec(html.slice(0, 64 * 1024));
  if (head) return html.slice(0, head.index + head[0].length) + inject + html.slice(head.index + head[0].length);
  const htmlTag = /<html\b[^>]{0,2000}>/i.exec(html.slice(0, 64 * 1024));
  const at = htmlTag ? htmlTag.index + htmlTag[0].length : 0;
  return html.slice(0, at) + `<head>${inject}</head>` + html.slice(at);
}

/** The policy the framed page runs under (see the module note). */
export function framePolicy(origin: string): string {
  return [
    'sandbox allow-scripts',
    "default-src 'none'",
    `script-src ${origin} 'unsafe-inline'`,
    `style-src * 'unsafe-inline'`,
    'img-src * data: blob:',
    'font-src * data:',
    'media-src *',
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    `base-uri ${origin}`,
    "frame-ancestors 'self'",
  ].join('; ');
}

/** Why a page is not framed, in words for the analyst (never a URL: the path is the analyst's own). */
class PageUnavailable extends Error {
  override readonly name = 'PageUnavailable';
}

async function fetchPage(url: URL): Promise<{ html: string; url: URL }> {
  let at = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await fetch(at, {
      redirect: 'manual',
      credentials: 'omit',
      headers: { Accept: 'text/html' },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (res.status >= 300 && res.status < 400) {
      const next = res.headers.get('location');
      await res.body?.cancel();
      const to = next ? pageUrl(url.origin, new URL(next, at).pathname + new URL(next, at).search) : undefined;
      if (!to || new URL(next!, at).origin !== url.origin) throw new PageUnavailable('redirected away from the page origin');
      at = to;
      continue;
    }
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok || !/^text\/html\b/i.test(type)) {
      await res.body?.cancel();
      throw new PageUnavailable(`answered ${res.status} (${type.split(';')[0] || 'no type'})`);
    }
    const charset = /charset=([\w-]+)/i.exec(type)?.[1] ?? 'utf-8';
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > MAX_PAGE_BYTES) throw new PageUnavailable(`is larger than ${MAX_PAGE_BYTES / 1024 / 1024} MiB`);
      chunks.push(chunk);
    }
    let html: string;
    try {
      html = new TextDecoder(charset).decode(Buffer.concat(chunks));
    } catch {
      html = Buffer.concat(chunks).toString('utf8');
    }
    return { html, url: at };
  }
  throw new PageUnavailable('redirected too often');
}

/**
 * What the frame gets when there is no page to show: a document of ours that tells the dashboard why (it then
 * draws the cells on a blank page), rather than an error status the analyst's console would report as a fault.
 */
function unavailable(reason: string): string {
  return `<!doctype html><meta charset="utf-8"><title>page unavailable</title><script>parent.postMessage({ anonHeatmapPage: { unavailable: ${JSON.stringify(reason)} } }, '*');</script>`;
}

export function createPageFrameRouter(origins: PageOrigins, log?: { warn: (o: object, m: string) => void }): Router {
  const router = express.Router();
  let inFlight = 0;
  router.get('/dashboard/page', async (req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' });
    const site = typeof req.query.site === 'string' ? req.query.site : '';
    const origin = origins(site);
    const url = origin && pageUrl(origin, typeof req.query.path === 'string' ? req.query.path : '');
    // The frame's own document in every case: sandboxed, scripts only inline (ours), no connections.
    res.set('Content-Security-Policy', framePolicy(origin ?? "'none'"));
    if (!origin) {
      res.type('text/html; charset=utf-8').send(unavailable('no page origin is configured for this site (SITES "pages")'));
      return;
    }
    if (!url) {
      res.status(400).type('text/plain').send('path must be a path on the site');
      return;
    }
    if (inFlight >= MAX_IN_FLIGHT) {
      res.status(503).set('Retry-After', '2').type('text/plain').send('busy');
      return;
    }
    inFlight++;
    try {
      const page = await fetchPage(url);
      res.type('text/html; charset=utf-8').send(framedHtml(page.html, page.url));
    } catch (err) {
      // The site and path only: a page path is already scrubbed data, never a visitor's.
      const reason = err instanceof PageUnavailable ? `the page ${err.message}` : 'the page could not be fetched';
      log?.warn({ site, reason }, 'heatmap page unavailable');
      res.type('text/html; charset=utf-8').send(unavailable(reason));
    } finally {
      inFlight--;
    }
  });
  return router;
}
