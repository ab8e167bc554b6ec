/**
 * The only module that reads `process.env`. The environment is parsed once
 * into a frozen, typed object with every default filled in; a bad value stops
 * the process at start with a message naming the setting and what it allows.
 * Components receive the slice they need, never the environment.
 */
import path from 'node:path';
import { z } from 'zod';
import { ROUTE_TEMPLATE } from '../anonymise/routes.js';
import { NO_SITE_RULES, type SiteRules } from '../anonymise/types.js';
import { DEFAULT_UTM_PARAMS, UTM_PARAMS } from '../anonymise/url.js';
import { MAX_PROP_VALUE } from '../wire/limits.js';
import { MAX_EVENTS, MAX_JOB_EVENTS } from '../wire/limits.js';

const SITE_KEY = /^[a-z0-9._-]{1,64}$/;
const HOST = /^[a-z0-9.-]{1,253}(:[0-9]{1,5})?$/;

const intIn = (min: number, max: number, def: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const boolFlag = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default(def ? 'true' : 'false')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const hostsSchema = z
  .array(z.string().transform((h) => h.toLowerCase()).pipe(z.string().regex(HOST, 'hosts are lowercase DNS names, optionally with :port')))
  .min(1, 'each site needs at least one host');
const nameList = (what: string) => z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, `${what} are 1–64 of [A-Za-z0-9_.-]`)).max(500).default([]);
const propRuleSchema = z.union([
  z.enum(['number', 'boolean', 'slug']),
  z.array(z.string().min(1).max(MAX_PROP_VALUE)).min(1, 'an enum rule lists at least one value').max(100),
]);

/** An http(s) origin: scheme, host and an optional port, nothing else. */
const PAGE_ORIGIN = /^https?:\/\/[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$/;

/** The demo storefront (examples/storefront), configured as a shop owner would: see README "Sites and route templates". */
export const DEFAULT_SITES =
  '{"demo":{"hosts":["localhost","127.0.0.1"],"routes":["/demo/wishlist/:id","/demo/account/*","/demo/orders/:id"],"query":["sku"],' +
  '"props":{"sku":"slug","items":"number"}}}';

/**
 * SITES: site key → its page hosts, either as a list (`{"shop":["shop.example"]}`) or as an object that
 * also gives the site's free-text rules (src/anonymise/types.ts SiteRules): route templates, query keys,
 * selector and label allowlists, custom prop value rules.
 */
const sitesSchema = z
  .string()
  .default(DEFAULT_SITES)
  .transform((raw, ctx) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"shop":["shop.example"]}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .record(
        z.string().regex(SITE_KEY, 'site keys are 1–64 of [a-z0-9._-]'),
        z.union([
          hostsSchema,
          z
            .object({
              hosts: hostsSchema,
              routes: z
                .array(
                  z
                    .string()
                    .max(512)
                    .regex(ROUTE_TEMPLATE, 'route templates are paths of literal segments, :name placeholders and a final *, e.g. /wishlist/:id or /account/*')
                    .refine((t) => !/\*\/./.test(t), "'*' may only end a route template"),
                )
                .max(500)
                .default([]),
              query: nameList('query parameter names'),
              selectors: nameList('selector ids and classes'),
              labels: nameList('labels'),
              props: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'prop keys are 1–64 of [A-Za-z0-9_.-]'), propRuleSchema).default({}),
              // Where the dashboard loads the site's pages from to draw heatmaps over them (src/query/page-frame.ts).
              pages: z.string().regex(PAGE_ORIGIN, 'pages is the origin the site\'s pages are served from, e.g. https://shop.example (no path)').optional(),
            })
            .strict(),
        ]),
      )
      .refine((o) => Object.keys(o).length > 0, 'at least one site is required'),
  );

/**
 * REDIS_URL names one Redis (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS) or a Redis
 * Cluster (`redis+cluster://[user:password@]host:port,host:port,…`, `rediss+cluster://` for TLS): some
 * reachable nodes of it, from which the clients learn the rest. A cluster has no database index.
 */
export interface RedisCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
}

const REDIS_URL_FORMS = 'must be redis://[user:password@]host:port[/db] (rediss:// for TLS), or a Redis Cluster: redis+cluster://[user:password@]host:port,host:port,… (rediss+cluster:// for TLS)';
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^@/?#]+)\/?$/;
const CLUSTER_NODE = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9.-]{1,253})):([0-9]{1,5})$/;

function parseRedisUrl(url: string): { url: string; cluster: RedisCluster | undefined } | string {
  if (/^rediss?\+cluster:/i.test(url)) {
    const m = CLUSTER_URL.exec(url);
    if (!m) return `${REDIS_URL_FORMS}; a cluster URL has no database index, path or query`;
    const nodes: { host: string; port: number }[] = [];
    for (const part of m[4]!.split(',')) {
      const n = CLUSTER_NODE.exec(part.trim());
      const port = Number(n?.[3]);
      if (!n || port < 1 || port > 65535) return `cluster node ${JSON.stringify(part.slice(0, 80))} is not host:port (e.g. 10.0.0.5:7000 or [::1]:7000)`;
      nodes.push({ host: n[1] ?? n[2]!, port });
    }
    try {
      const username = m[2] ? decodeURIComponent(m[2]) : undefined;
      const password = m[3] ? decodeURIComponent(m[3]) : undefined;
      return { url, cluster: { nodes, username, password, tls: m[1] === 'rediss' } };
    } catch {
      return 'the user or password of the cluster URL is not valid percent-encoding';
    }
  }
  try {
    const u = new URL(url);
    if (u.protocol === 'redis:' || u.protocol === 'rediss:') return { url, cluster: undefined };
  } catch {}
  return REDIS_URL_FORMS;
}

/**
 * The hash tag Redis Cluster hashes `key` by (the text between its first `{` and the next `}`, when not
 * empty), or undefined. Every key of the pipeline starts with QUEUE_PREFIX, so a prefix holding a tag puts
 * them all in one slot: BullMQ's scripts (and ours) touch several keys at once, and a cluster runs a script
 * only when all its keys share a slot.
 */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

const FAULT = /^(crash-at:(mid-anonymise|before-insert|after-insert)(:[0-9]{1,6})?|store-down-while-file|poison-while-file|stop-merges|collector-thread-crash-while-file)$/;

const tokenSchema = z.string().min(16, 'must be at least 16 characters').optional();

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: intIn(0, 65535, 8080),
  WORKER_PORT: intIn(0, 65535, 8081),
  // People's routes (/query, /dashboard, /metrics) of the all-in-one, apart from the public collector port.
  QUERY_PORT: intIn(0, 65535, 8081),
  QUERY_HOST: z.string().min(1).default('127.0.0.1'),
  QUERY_URL: z.string().url('must be the http(s) URL of the process serving /query').optional(),
  // Bounds of every /query query (src/query/settings.ts); deploy/clickhouse/users.d/anon.xml repeats them for server mode.
  QUERY_MAX_EXECUTION_SECONDS: intIn(1, 3600, 10),
  QUERY_MAX_MEMORY_BYTES: intIn(16 * 1024 * 1024, 256 * 1024 * 1024 * 1024, 1024 * 1024 * 1024),
  QUERY_MAX_RESULT_ROWS: intIn(1, 1_000_000_000, 1_000_000),
  QUERY_MAX_RESULT_BYTES: intIn(1024, 100 * 1024 * 1024 * 1024, 100 * 1024 * 1024),
  QUERY_CONCURRENCY: intIn(1, 64, 2),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .transform((url, ctx) => {
      const parsed = parseRedisUrl(url);
      if (typeof parsed !== 'string') return parsed;
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }),
  // Unset: 'anon', or '{anon}' with a Redis Cluster (a hash tag is required there: see hashTag).
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9:{}_-]{1,64}$/, 'letters, digits, : { } _ -').optional(),
  QUEUE_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('events'),
  CLICKHOUSE_URL: z.string().url('must be an http(s):// URL of a ClickHouse server').optional(),
  CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/).default('analytics'),
  // A cluster of the servers' remote_servers (or a macro such as {cluster}): the migrations then create
  // replicated, sharded tables ON CLUSTER (src/store/cluster-ddl.ts).
  CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^([A-Za-z_][A-Za-z0-9_-]{0,63}|\{[A-Za-z_][A-Za-z0-9_]{0,63}\})$/, "must name a cluster of the servers' remote_servers (letters, digits, _ -) or be a macro such as {cluster}")
    .optional(),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  DATA_DIR: z.string().default('./data'),
  SITES: sitesSchema,
  TRUST_PROXY: z.string().optional(),
  ANALYST_TOKEN: tokenSchema,
  ADMIN_TOKEN: tokenSchema,
  SEAL_PUBLIC_KEY: z.string().optional(),
  SEAL_PRIVATE_KEY: z.string().optional(),
  IPV4_PREFIX: intIn(0, 24, 24),
  // 40, not 48: a /48 is often one customer's whole assignment (businesses, some ISPs give every household one),
  // as identifying as a full IPv4 address; a /40 holds 256 such /48s, the crowd of an IPv4 /24 (privacy report).
  IPV6_PREFIX: intIn(0, 48, 40),
  UTM_PARAMS: z
    .string()
    .default(DEFAULT_UTM_PARAMS.join(','))
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(UTM_PARAMS, { message: `comma-separated, of ${UTM_PARAMS.join(', ')}` }))),
  QUERY_ALLOWLIST: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'comma-separated parameter names'))),
  HONOR_GPC: boolFlag(true),
  HONOR_DNT: boolFlag(true),
  // At least 3: the daily rollup (src/store/rollup.ts) summarises a day once it is 2 days old, from rows kept this long.
  RETENTION_DAYS: intIn(3, 3650, 180),
  AGGREGATE_RETENTION_MONTHS: intIn(1, 120, 25),
  K_ANONYMITY: intIn(2, 1000, 5),
  QUEUE_HIGH_WATER: intIn(1, 10_000_000, 20_000),
  QUEUE_LAG_READY_MS: intIn(100, 86_400_000, 60_000),
  GROUP_COMMIT_MS: intIn(0, 1000, 2),
  GROUP_COMMIT_MAX_EVENTS: intIn(1, MAX_JOB_EVENTS - MAX_EVENTS, 2000),
  INSERT_BATCH_ROWS: intIn(1, 1_000_000, 20_000),
  INSERT_FLUSH_MS: intIn(10, 60_000, 1000),
  WORKER_CONCURRENCY: intIn(1, 10_000, 256),
  // How often the aggregates are brought up to date from `events` (src/store/aggregator.ts): answers lag by this
  // plus one run (a few seconds at full load), well under a minute.
  AGGREGATE_EVERY_MS: intIn(50, 600_000, 10_000),
  // At least 2: a batch that ClickHouse rejects fails every job in it, and only on its retry is each job
  // inserted on its own (src/ingest/anonymise-job.ts), so an innocent batch-mate of a poison job needs that retry.
  JOB_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(2, 'must be at least 2: the jobs batched with a poison job need one retry, inserted on their own, before they could be dead-lettered')
    .max(100)
    .default(8),
  JOB_LOCK_MS: intIn(500, 600_000, 30_000),
  RETRY_MAX_BACKOFF_MS: intIn(100, 3_600_000, 30_000),
  DLQ_RETENTION_DAYS: intIn(1, 365, 14),
  // A job whose requests were received longer ago is refused (and replays of older material with it):
  // the replay guard remembers each job for this long (src/queue/replay-guard.ts).
  JOB_MAX_AGE_HOURS: intIn(1, 8760, 72),
  // Optional signing identity of a collector, and the collectors a worker accepts (src/queue/signing.ts).
  COLLECTOR_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1–64 of [A-Za-z0-9._-]').optional(),
  COLLECTOR_SIGNING_KEY: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a base64 Ed25519 private key (npm run keygen -- --collector ID)').optional(),
  TRUSTED_COLLECTORS: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON: {"collector-id": "base64 Ed25519 public key", …}' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must map collector ids to base64 Ed25519 public keys'))),
  SHUTDOWN_GRACE_MS: intIn(100, 600_000, 15_000),
  RATE_LIMIT_WINDOW_MS: intIn(1000, 3_600_000, 10_000),
  RATE_LIMIT_PER_ADDRESS: intIn(0, 100_000_000, 200_000),
  RATE_LIMIT_PER_SITE: intIn(0, 1_000_000_000, 1_000_000),
  RATE_LIMIT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  MIGRATE_ON_START: boolFlag(true),
  // The all-in-one's collector in a thread of its own (src/app/collector-thread.ts); false: one thread.
  COLLECTOR_THREAD: boolFlag(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Test-only fault injection (src/app/faults.ts); refused in production below.
  TEST_ONLY_FAULTS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(FAULT, 'comma-separated faults: crash-at:<mid-anonymise|before-insert|after-insert>[:n], store-down-while-file, poison-while-file, stop-merges, collector-thread-crash-while-file'))),
});

export type Env = Record<string, string | undefined>;

export interface Config {
  readonly production: boolean;
  readonly http: {
    readonly port: number;
    /** HTTP port of a separate worker process (/query in embedded mode, /metrics, /readyz); 0 = none. */
    readonly workerPort: number;
    readonly host: string;
    readonly trustProxy: string | number | boolean;
    /** Where `npm run query` sends SQL in embedded mode. */
    readonly queryUrl: string;
  };
  /** POST /query: where people reach it in the all-in-one, and the bounds of every query (src/query/settings.ts). */
  readonly query: {
    readonly port: number;
    readonly host: string;
    readonly maxExecutionSeconds: number;
    readonly maxMemoryBytes: number;
    readonly maxResultRows: number;
    readonly maxResultBytes: number;
    /** Queries running at once; more get 429 + Retry-After. */
    readonly concurrency: number;
  };
  readonly redis: {
    readonly url: string;
    /** Set when REDIS_URL names a Redis Cluster (redis+cluster://…); then `prefix` holds a hash tag. */
    readonly cluster?: RedisCluster | undefined;
    readonly prefix: string;
    readonly queueName: string;
  };
  readonly store: {
    /** undefined → embedded chDB in `dataDir/clickhouse`. */
    readonly url: string | undefined;
    readonly database: string;
    /** CLICKHOUSE_CLUSTER: migrations create replicated local tables and Distributed tables ON CLUSTER this. */
    readonly cluster?: string | undefined;
    readonly username: string | undefined;
    readonly password: string | undefined;
    readonly dataDir: string;
    readonly retentionDays: number;
    readonly aggregateRetentionMonths: number;
    /** Analyst views suppress groups with fewer distinct visitors than this. */
    readonly kAnonymity: number;
    /** Apply schemas/ at start (off where the ingest user may not run DDL). */
    readonly migrateOnStart: boolean;
  };
  /** Site key → its page hosts. */
  readonly sites: Readonly<Record<string, readonly string[]>>;
  /** Site key → the origin its pages are served from (SITES `pages`), for the dashboard's heatmaps; absent when not configured. */
  readonly pageOrigins: Readonly<Record<string, string>>;
  readonly anonymise: {
    readonly ipv4Prefix: number;
    readonly ipv6Prefix: number;
    readonly queryAllowlist: readonly string[];
    /** utm_* parameters kept (utm_term and utm_content are off by default). */
    readonly utmParams: readonly string[];
    /** Site key → its free-text rules (route templates, allowlists, prop rules); the defaults for a site given as a host list. */
    readonly siteRules: Readonly<Record<string, SiteRules>>;
  };
  readonly consent: { readonly honorGpc: boolean; readonly honorDnt: boolean };
  readonly seal: { readonly publicKey: string | undefined; readonly privateKey: string | undefined; readonly keyDir: string };
  readonly auth: { readonly analystToken: string | undefined; readonly adminToken: string | undefined };
  readonly queue: {
    readonly highWater: number;
    readonly lagReadyMs: number;
    readonly groupCommitMs: number;
    readonly groupCommitMaxEvents: number;
    readonly attempts: number;
    /** How long a worker holds a job before another may take it over (a killed worker's jobs return after this). */
    readonly lockMs: number;
    readonly maxBackoffMs: number;
    readonly dlqRetentionDays: number;
    /** Jobs received longer ago than this are refused as expired (and the replay guard forgets them after it). */
    readonly maxJobAgeMs: number;
  };
  /** Who signs the jobs of this collector, and whose jobs this worker accepts (empty: any job sealed for its key). */
  readonly signing: {
    readonly collectorId: string | undefined;
    readonly signingKey: string | undefined;
    readonly trustedCollectors: Readonly<Record<string, string>>;
  };
  readonly worker: { readonly batchRows: number; readonly flushMs: number; readonly concurrency: number; readonly aggregateEveryMs: number };
  /** Fixed-window request limits of /collect; 0 turns a limit off. */
  readonly rateLimit: {
    readonly windowMs: number;
    readonly perAddress: number;
    readonly perSite: number;
    /** Key of the HMAC that hides client addresses in Redis key names; undefined → random per process. */
    readonly secret: string | undefined;
  };
  readonly shutdownGraceMs: number;
  /** COLLECTOR_THREAD: `npm start` runs its collector in a worker thread (two cores) rather than on the main thread. */
  readonly collectorThread: boolean;
  readonly logLevel: string;
  /** TEST_ONLY_FAULTS: faults the fault tests switch on (src/app/faults.ts); always empty in production. */
  readonly testOnlyFaults: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** TRUST_PROXY in express syntax: unset/false → off, a hop count, true, or names/CIDRs. */
function parseTrustProxy(raw: string | undefined): string | number | boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true') return true;
  if (/^[0-9]+$/.test(raw)) return Number(raw);
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  // Empty strings mean "unset" so `FOO= npm start` falls back to the default.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path[0] === undefined ? '(environment)' : String(i.path[0]);
        const where = i.path.length > 1 ? ` at ${i.path.slice(1).join('.')}` : '';
        const got = cleaned[name];
        const shown = got === undefined || /TOKEN|KEY|PASSWORD|SECRET/.test(name) || /:\/\/[^/]*@/.test(got) ? '' : ` (got ${JSON.stringify(got.slice(0, 80))})`;
        return `${name}${where}: ${i.message}${shown}`;
      }),
    );
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && e.TEST_ONLY_FAULTS.length > 0) {
    throw new ConfigError(['TEST_ONLY_FAULTS: fault injection is for tests and is refused when NODE_ENV=production (unset it)']);
  }
  if ((e.COLLECTOR_ID === undefined) !== (e.COLLECTOR_SIGNING_KEY === undefined)) {
    throw new ConfigError(['COLLECTOR_ID and COLLECTOR_SIGNING_KEY go together: set both (npm run keygen -- --collector ID) or neither']);
  }
  const redisCluster = e.REDIS_URL.cluster;
  const prefix = e.QUEUE_PREFIX ?? (redisCluster ? '{anon}' : 'anon');
  if (redisCluster && hashTag(prefix) === undefined) {
    throw new ConfigError([
      `QUEUE_PREFIX: with a Redis Cluster (REDIS_URL=redis+cluster://…) the prefix must hold a hash tag, e.g. {anon} or {${prefix.replace(/[{}]/g, '')}} (got ${JSON.stringify(prefix)}): ` +
        'BullMQ and the pipeline run scripts over several keys at once, and Redis Cluster runs a script only when all its keys are in one slot; the tag puts every key there',
    ]);
  }
  if (e.CLICKHOUSE_CLUSTER !== undefined && e.CLICKHOUSE_URL === undefined) {
    throw new ConfigError(['CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL (a server of that cluster); the embedded ClickHouse is a single node']);
  }
  const trustProxy = parseTrustProxy(e.TRUST_PROXY);
  const dataDir = path.resolve(e.DATA_DIR);
  const config: Config = {
    production: e.NODE_ENV === 'production',
    http: { port: e.PORT, workerPort: e.WORKER_PORT, host: e.HOST, trustProxy, queryUrl: e.QUERY_URL ?? `http://127.0.0.1:${e.QUERY_PORT}` },
    query: {
      port: e.QUERY_PORT,
      host: e.QUERY_HOST,
      maxExecutionSeconds: e.QUERY_MAX_EXECUTION_SECONDS,
      maxMemoryBytes: e.QUERY_MAX_MEMORY_BYTES,
      maxResultRows: e.QUERY_MAX_RESULT_ROWS,
      maxResultBytes: e.QUERY_MAX_RESULT_BYTES,
      concurrency: e.QUERY_CONCURRENCY,
    },
    redis: { url: e.REDIS_URL.url, cluster: redisCluster, prefix, queueName: e.QUEUE_NAME },
    store: {
      url: e.CLICKHOUSE_URL,
      database: e.CLICKHOUSE_DATABASE,
      cluster: e.CLICKHOUSE_CLUSTER,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      dataDir,
      retentionDays: e.RETENTION_DAYS,
      aggregateRetentionMonths: e.AGGREGATE_RETENTION_MONTHS,
      kAnonymity: e.K_ANONYMITY,
      migrateOnStart: e.MIGRATE_ON_START,
    },
    sites: Object.fromEntries(Object.entries(e.SITES).map(([k, v]) => [k, Array.isArray(v) ? v : v.hosts])),
    pageOrigins: Object.fromEntries(Object.entries(e.SITES).flatMap(([k, v]) => (!Array.isArray(v) && v.pages ? [[k, v.pages]] : []))),
    anonymise: {
      ipv4Prefix: e.IPV4_PREFIX,
      ipv6Prefix: e.IPV6_PREFIX,
      queryAllowlist: e.QUERY_ALLOWLIST,
      utmParams: e.UTM_PARAMS,
      siteRules: Object.fromEntries(Object.entries(e.SITES).map(([k, v]) => [k, Array.isArray(v) ? NO_SITE_RULES : { ...v, props: v.props as SiteRules['props'] }])),
    },
    consent: { honorGpc: e.HONOR_GPC, honorDnt: e.HONOR_DNT },
    seal: { publicKey: e.SEAL_PUBLIC_KEY, privateKey: e.SEAL_PRIVATE_KEY, keyDir: path.join(dataDir, 'keys') },
    auth: { analystToken: e.ANALYST_TOKEN, adminToken: e.ADMIN_TOKEN },
    queue: {
      highWater: e.QUEUE_HIGH_WATER,
      lagReadyMs: e.QUEUE_LAG_READY_MS,
      groupCommitMs: e.GROUP_COMMIT_MS,
      groupCommitMaxEvents: e.GROUP_COMMIT_MAX_EVENTS,
      attempts: e.JOB_ATTEMPTS,
      lockMs: e.JOB_LOCK_MS,
      maxBackoffMs: e.RETRY_MAX_BACKOFF_MS,
      dlqRetentionDays: e.DLQ_RETENTION_DAYS,
      maxJobAgeMs: e.JOB_MAX_AGE_HOURS * 3_600_000,
    },
    signing: { collectorId: e.COLLECTOR_ID, signingKey: e.COLLECTOR_SIGNING_KEY, trustedCollectors: e.TRUSTED_COLLECTORS },
    worker: { batchRows: e.INSERT_BATCH_ROWS, flushMs: e.INSERT_FLUSH_MS, concurrency: e.WORKER_CONCURRENCY, aggregateEveryMs: e.AGGREGATE_EVERY_MS },
    rateLimit: { windowMs: e.RATE_LIMIT_WINDOW_MS, perAddress: e.RATE_LIMIT_PER_ADDRESS, perSite: e.RATE_LIMIT_PER_SITE, secret: e.RATE_LIMIT_SECRET },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    collectorThread: e.COLLECTOR_THREAD,
    logLevel: e.LOG_LEVEL,
    testOnlyFaults: e.TEST_ONLY_FAULTS,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
