/** The load generator: autocannon with a pool of realistic bodies, user agents and client addresses. */
import autocannon from 'autocannon';
import { mixedBatch } from '../test/support/builders.js';

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
];

export interface PoolEntry {
  body: string;
  /** The body split where its page-view id goes: the load generator puts a fresh id there for every request. */
  parts: string[];
  headers: Record<string, string>;
}

/** `size` distinct requests: mixed event types, many user agents, many client addresses (IPv4 and IPv6). */
export function bodyPool(site: string, host: string, eventsPerRequest: number, size: number): PoolEntry[] {
  const pool: PoolEntry[] = [];
  for (let i = 0; i < size; i++) {
    const ip = i % 4 === 3 ? `2001:db8:${((i * 7) % 65535).toString(16)}::${(i % 200) + 1}` : `198.51.${i % 250}.${(i * 13) % 250 + 1}`;
    const batch = mixedBatch(eventsPerRequest, site, host);
    const body = JSON.stringify(batch);
    pool.push({
      body,
      parts: body.split(batch.events[0]!.pageview_id),
      headers: { 'content-type': 'text/plain', 'user-agent': UAS[i % UAS.length]!, 'x-forwarded-for': ip, 'accept-language': i % 3 ? 'en-US,en;q=0.9' : 'de-DE,de;q=0.8' },
    });
  }
  return pool;
}

export interface LoadResult {
  rps: number;
  accepted: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  seconds: number;
}

export async function loadTest(opts: {
  url: string;
  bodies: PoolEntry[];
  seconds: number;
  connections: number;
  rate?: number;
  onTick?: (s: { elapsed: number; rps: number }) => void;
}): Promise<LoadResult> {
  let n = 0;
  let accepted = 0;
  const t0 = Date.now();
  const instance = autocannon({
    url: opts.url,
    method: 'POST',
    connections: opts.connections,
    duration: opts.seconds,
    overallRate: opts.rate,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: autocannon.Request) => {
          const e = opts.bodies[n % opts.bodies.length]!;
          // A fresh page-view id per request: the same body sent twice from the same client is a replay, and
          // replays collapse to one row (event ids are stable per visitor and client ids), which is not what a
          // throughput run should count. Ids stay within the wire format's 8-64 of [A-Za-z0-9_-].
          const pageview = `pv${(n++).toString(36).padStart(10, '0')}`;
          return { ...req, method: 'POST' as const, body: e.parts.join(pageview), headers: e.headers };
        },
        onResponse: (status: number) => {
          if (status === 202) accepted++;
        },
      },
    ],
  } as unknown as autocannon.Options);
  const tick = setInterval(() => {
    const elapsed = (Date.now() - t0) / 1000;
    opts.onTick?.({ elapsed, rps: accepted / Math.max(elapsed, 0.001) });
  }, 1000);
  const result = await instance;
  clearInterval(tick);
  const seconds = (Date.now() - t0) / 1000;
  return {
    rps: accepted / seconds,
    accepted,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    seconds,
  };
}
