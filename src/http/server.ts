/**
 * The HTTP servers of every process: one construction (timeouts that cut off
 * slow clients), one way to listen, and one small express app for the routes
 * that are not the collector's hot path (health, metrics, query, dashboard),
 * answering JSON for unknown routes and errors, never a stack trace.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../observe/logger.js';

export function createHttpServer(handler: http.RequestListener): http.Server {
  // Slow clients are cut off: headers within 5 s, the whole request within 10 s, checked every second.
  return http.createServer({ headersTimeout: 5000, requestTimeout: 10_000, connectionsCheckingInterval: 1000, keepAliveTimeout: 5000 }, handler);
}

/** Listens and answers the URL to print (a wildcard host is shown as 127.0.0.1). */
export async function listen(server: http.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown}:${addr.port}`;
}

/** An express app serving `routers`, with JSON 404s and errors. */
export function createRoutesApp(routers: readonly Router[], log: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  for (const r of routers) app.use(r);
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  // express 5 routes async errors here.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    if (status >= 500) log.error({ err }, 'request failed');
    if (!res.headersSent) res.status(status).json({ error: status >= 500 ? 'internal error' : (err as Error).message });
  });
  return app;
}

/** Stops accepting, closes idle keep-alive connections, resolves when in-flight requests are done. */
export function closeServer(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  return closed;
}
