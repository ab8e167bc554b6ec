/**
 * A forward HTTP proxy for one browser context that adds `X-Forwarded-For:
 * <address>` to every request it passes on: with TRUST_PROXY=loopback, the
 * collector then sees each context as a visitor on a network of its own, as
 * the k rule of the analyst views needs.
 *
 * Why a proxy and not a context's extraHTTPHeaders: like its userAgent, that
 * option reaches the requests of the first document only; the page views of
 * later documents and the beacons a page sends while it is navigated away
 * from go out without it. Every request of a context goes through its proxy.
 * (Chromium bypasses proxies for loopback addresses unless told `<-loopback>`.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface VisitorProxy {
  /** For `browser.newContext({ proxy })`. */
  readonly proxy: { server: string; bypass: string };
  close(): Promise<void>;
}

export async function startVisitorProxy(forwardedFor: string): Promise<VisitorProxy> {
  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, 'x-forwarded-for': forwardedFor };
    delete headers['proxy-connection'];
    const upstream = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    proxy: { server: `http://127.0.0.1:${port}`, bypass: '<-loopback>' },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
