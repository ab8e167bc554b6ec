/**
 * Composition of the people's side of a process that owns the store
 * (the all-in-one, or `npm run worker` in embedded mode): POST /query with
 * its credentials, guard, read connections and audit trail, and the
 * dashboard. The routers are mounted on a port apart from the collector's
 * (QUERY_PORT in the all-in-one, WORKER_PORT in a worker).
 */
import type { Router } from 'express';
import type { Config } from '../config/config.js';
import type { Logger } from '../observe/logger.js';
import { AuditLog } from '../query/audit.js';
import { createDashboardRouter } from '../query/dashboard.js';
import { createQueryRouter } from '../query/router.js';
import { Credentials, resolveTokens, type Tokens } from '../query/tokens.js';
import type { Store } from '../store/client.js';
import { openQueryReader } from '../store/reader.js';

export interface QueryService {
  routers: Router[];
  /** The bootstrap pair (printed by `npm start` in development). */
  tokens: Tokens;
  close(): Promise<void>;
}

/**
 * `fallbackPageOrigin`: where the pages of a site without SITES `pages` are looked for when a heatmap is drawn
 * over them (the all-in-one passes its own origin, which serves the demo storefront).
 */
export async function openQueryService(config: Config, store: Store, log: Logger, fallbackPageOrigin?: string): Promise<QueryService> {
  const tokens = resolveTokens(config.auth, config.store.dataDir, !config.production);
  const reader = await openQueryReader(store, config.query.concurrency);
  const audit = new AuditLog(store.client, log);
  const routers = [
    createQueryRouter({
      parser: reader.parser,
      reader,
      credentials: new Credentials(config.store.dataDir, tokens),
      audit,
      log,
      limits: config.query,
    }),
    createDashboardRouter((site) => (Object.hasOwn(config.sites, site) ? (config.pageOrigins[site] ?? fallbackPageOrigin) : undefined), log),
  ];
  return {
    routers,
    tokens,
    async close() {
      await reader.close();
      await audit.close();
    },
  };
}
