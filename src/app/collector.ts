/**
 * Composition of a collector: Redis (fail-fast producer connection), the
 * sealer, the group-commit producer, the express app and its HTTP server.
 */
import type http from 'node:http';
import type { Router } from 'express';
import type { Config } from '../config/config.js';
import { createCollectorApp } from '../collect/app.js';
import { closeServer, createHttpServer, listen } from '../http/server.js';
import type { ReadinessCheck } from '../observe/health.js';
import { RateLimiter } from '../collect/rate-limit.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { collectorSealKey } from '../queue/keys.js';
import { JobProducer } from '../queue/producer.js';
import { assertNoEviction, producerConnection, waitReady } from '../queue/redis.js';
import { keyFingerprint, Sealer } from '../queue/seal.js';
import { createJobSigner } from '../queue/signing.js';

export interface Collector {
  server: http.Server;
  url: string;
  producer: JobProducer;
  close(): Promise<void>;
}

export interface CollectorOptions {
  log: Logger;
  metrics: Metrics;
  routers?: Router[];
  readiness?: ReadinessCheck[];
  port?: number;
}

export async function startCollector(config: Config, opts: CollectorOptions): Promise<Collector> {
  const { log, metrics } = opts;
  const redis = producerConnection(config.redis);
  redis.on('error', () => {}); // status changes are what matter; each request reports its own failure
  await waitReady(redis, config.redis);
  await assertNoEviction(redis);
  const publicKey = collectorSealKey(config, log);
  log.info({ sealKey: keyFingerprint(publicKey) }, 'collector seals jobs for worker key');
  const producer = new JobProducer(redis, new Sealer(publicKey), {
    queueName: config.redis.queueName,
    prefix: config.redis.prefix,
    groupCommitMs: config.queue.groupCommitMs,
    groupCommitMaxEvents: config.queue.groupCommitMaxEvents,
    highWater: config.queue.highWater,
    attempts: config.queue.attempts,
    signer: config.signing.collectorId && config.signing.signingKey ? createJobSigner(config.signing.collectorId, config.signing.signingKey) : undefined,
  });
  producer.startSampling();
  metrics.setQueueSource(() => producer.lastStats());
  const rateLimit = new RateLimiter(redis, { prefix: config.redis.prefix, ...config.rateLimit });
  const readiness: ReadinessCheck[] = [
    {
      name: 'redis',
      async check() {
        await redis.set(`${config.redis.prefix}:readyz`, '1', 'PX', 10_000);
        return { ok: true };
      },
    },
    {
      name: 'queue',
      async check() {
        const s = await producer.sample();
        metrics.queueWaiting.set(s.waiting);
        metrics.queueActive.set(s.active);
        metrics.queueFailed.set(s.failed);
        metrics.queueOldestAge.set(s.oldestWaitingAgeMs / 1000);
        const ok = s.oldestWaitingAgeMs < config.queue.lagReadyMs && !producer.overloaded();
        return { ok, detail: { waiting: s.waiting, active: s.active, failed: s.failed, oldestWaitingAgeMs: s.oldestWaitingAgeMs } };
      },
    },
    ...(opts.readiness ?? []),
  ];
  const app = createCollectorApp({
    sites: config.sites,
    trustProxy: config.http.trustProxy,
    consent: config.consent,
    queue: producer,
    readiness,
    metrics,
    log,
    rateLimit,
    routers: opts.routers,
  });
  const server = createHttpServer(app);
  const url = await listen(server, opts.port ?? config.http.port, config.http.host);
  return {
    server,
    url,
    producer,
    async close() {
      // Stop accepting, let in-flight requests finish (each waits for its Redis ack), then flush.
      // A keep-alive client that keeps sending would hold its connection (and so the drain) open until the
      // grace period ran out: from now on each response closes its connection.
      server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.shouldKeepAlive = false;
      });
      await closeServer(server);
      await producer.close();
      await rateLimit.close();
      redis.disconnect();
    },
  };
}
