/**
 * Health endpoints every process serves the same way: `/healthz` says the
 * process is up; `/readyz` runs the process's readiness checks (each bounded
 * to 2 s) and answers 200 only when all pass, with each check's own figures
 * (queue depth and age, last insert) so an operator sees progress, not just a
 * ping. Check failures report their message, which never holds visitor data.
 */
import express, { type Router } from 'express';

export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: Record<string, unknown> }>;
}

const CHECK_TIMEOUT_MS = 2000;

export function createHealthRouter(readiness: readonly ReadinessCheck[]): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, unknown> = {};
    let ready = true;
    await Promise.all(
      readiness.map(async (c) => {
        try {
          const r = await withTimeout(c.check(), CHECK_TIMEOUT_MS);
          results[c.name] = { ok: r.ok, ...r.detail };
          if (!r.ok) ready = false;
        } catch (err) {
          results[c.name] = { ok: false, error: (err as Error).message };
          ready = false;
        }
      }),
    );
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: results });
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}
