/**
 * A throw-away Redis Cluster on loopback for the cluster tests: `masters`
 * redis-server processes with --cluster-enabled, each in its own temporary
 * directory, joined by `redis-cli --cluster create` (no replicas). Needs the
 * `redis-server` and `redis-cli` binaries (Debian packages redis-server and
 * redis-tools; the pretest checks for both).
 *
 * Every process started here is killed by `stop()` (and, should the test
 * process end without calling it, by an exit hook), and the directories are
 * removed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

/** Redis Cluster talks to its peers on port + 10000 (the cluster bus), so both must be free and below 65536. */
const BUS_OFFSET = 10_000;

export interface RedisClusterNode {
  port: number;
  dir: string;
  proc: ChildProcess;
}

export interface LocalRedisCluster {
  nodes: RedisClusterNode[];
  /** REDIS_URL naming the cluster, in the syntax src/config/config.ts accepts. */
  url: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port p in 20000–29999 with p and p + 10000 free on 127.0.0.1 (none of `taken`). */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor(Math.random() * 10_000);
    if (taken.has(p) || taken.has(p + BUS_OFFSET) || taken.has(p - BUS_OFFSET)) continue;
    if ((await portFree(p)) && (await portFree(p + BUS_OFFSET))) return p;
  }
  throw new Error('no free port pair (p, p + 10000) for a cluster node in 20000–29999');
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
  return stdout;
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Redis Cluster: ${what} not reached within ${timeoutMs} ms`);
}

function startNode(port: number): RedisClusterNode {
  const dir = tempDir(`redis-cluster-${port}`);
  const proc = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', '2000',
      '--dir', dir,
      '--save', '',
      // AOF on (without fsync: nothing here must survive a power cut), so the daily AOF rewrite has work on each node.
      '--appendonly', 'yes',
      '--appendfsync', 'no',
      '--maxmemory-policy', 'noeviction',
      '--logfile', 'redis.log',
    ],
    { stdio: 'ignore', cwd: dir },
  );
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return { port, dir, proc };
}

async function stopNode(n: RedisClusterNode): Promise<void> {
  if (n.proc.exitCode === null && n.proc.signalCode === null) {
    const exited = new Promise((r) => n.proc.once('exit', r));
    n.proc.kill('SIGKILL');
    await exited;
  }
  fs.rmSync(n.dir, { recursive: true, force: true });
}

/** Starts `masters` (at least 3, Redis Cluster's minimum) nodes and joins them into one cluster with every slot covered. */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const taken = new Set<number>();
  const nodes: RedisClusterNode[] = [];
  const stop = async () => {
    for (const n of nodes) await stopNode(n);
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      taken.add(port);
      nodes.push(startNode(port));
    }
    for (const n of nodes) await waitFor(`node ${n.port} answering`, async () => (await redisCli(n.port, 'PING')).includes('PONG'), 10_000);
    await redisCli(nodes[0]!.port, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes');
    for (const n of nodes) {
      await waitFor(`cluster_state:ok on ${n.port}`, async () => (await redisCli(n.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, stop };
}
