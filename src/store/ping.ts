/**
 * Whether the store answers, for /readyz: asked on a connection of its own
 * in embedded mode.
 *
 * Why not the writer's connection: a chDB connection runs one statement at
 * a time, so a `SELECT 1` there waits for every insert queued before it, and
 * a busy moment (a backlog being caught up while an analyst query holds a
 * core) made it pass the 2 s readiness bound: /readyz said "not ready" about
 * an engine that was answering. The backlog is the queue check's business
 * (oldest waiting job, high-water mark); this one asks only whether the
 * engine answers. Server mode: the HTTP client's ping.
 */
import type { Store } from './client.js';

export interface StorePing {
  ping(): Promise<{ success: boolean }>;
  close(): void;
}

export async function openStorePing(store: Store): Promise<StorePing> {
  if (!store.embedded) return { ping: () => store.client.ping(), close: () => {} };
  const { Session } = (await import('chdb')) as unknown as { Session: new (path: string) => { queryAsync(sql: string): Promise<unknown>; close(): void } };
  const session = new Session(store.dataPath);
  return {
    ping: () => session.queryAsync('SELECT 1').then(() => ({ success: true }), () => ({ success: false })),
    close: () => session.close(),
  };
}
