/**
 * deploy/cluster/ (2 shards x 2 replicas with ClickHouse Keeper) cannot be
 * started here (no Docker engine), so its files are checked against each
 * other: the nodes the compose file runs are the ones remote_servers names,
 * shard by shard; the Keeper nodes are the Raft members and the servers'
 * zookeeper list; the cluster name is the one the migrations are given and
 * the configuration accepts; the image is the one docker-compose.yml pins;
 * every mounted file exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIR = path.join(ROOT, 'deploy/cluster');
const compose = fs.readFileSync(path.join(DIR, 'docker-compose.yml'), 'utf8');
const serverXml = fs.readFileSync(path.join(DIR, 'config.d/cluster.xml'), 'utf8');
const keeperXml = fs.readFileSync(path.join(DIR, 'keeper/keeper.xml'), 'utf8');

/** The compose file's services: name → the lines of its block. */
function services(): Map<string, string> {
  // From `services:` to the next top-level key (`volumes:`, whose entries look like services).
  const from = compose.indexOf('\nservices:\n') + 1;
  const body = compose.slice(from).split(/\n(?=\S)/)[0]!;
  const out = new Map<string, string>();
  for (const block of body.split(/\n(?=  [a-z0-9-]+:\n)/).slice(1)) {
    const name = /^ {2}([a-z0-9-]+):/.exec(block)![1]!;
    out.set(name, block.split(/\n(?=\S)/)[0]!);
  }
  return out;
}

const field = (block: string, key: string) => new RegExp(`\\b${key}: "?([A-Za-z0-9_.-]+)"?`).exec(block)?.[1];

describe('deploy/cluster', () => {
  const svc = services();

  it('runs exactly the nodes remote_servers names, two shards of two replicas', () => {
    const nodes = [...svc].filter(([, b]) => field(b, 'CH_SHARD')).map(([name, b]) => ({ name, shard: field(b, 'CH_SHARD')!, replica: field(b, 'CH_REPLICA')!, host: field(b, 'hostname')! }));
    expect(nodes).toHaveLength(4);
    for (const n of nodes) expect(n.host).toBe(n.name);
    for (const n of nodes) expect(n.replica).toBe(n.name); // unique in the cluster: the replication paths of tables replicated everywhere need it
    const shards = [...serverXml.matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((m) => [...m[1]!.matchAll(/<host>([^<]+)<\/host>/g)].map((h) => h[1]));
    expect(shards).toHaveLength(2);
    for (const [i, hosts] of shards.entries()) {
      expect(hosts).toHaveLength(2);
      expect(hosts.sort()).toEqual(nodes.filter((n) => Number(n.shard) === i + 1).map((n) => n.name).sort());
      expect(serverXml).toContain('<internal_replication>true</internal_replication>');
    }
  });

  it('runs three Keeper nodes that are the Raft members and the servers\' zookeeper', () => {
    const keepers = [...svc].filter(([, b]) => field(b, 'KEEPER_SERVER_ID')).map(([name, b]) => ({ name, id: field(b, 'KEEPER_SERVER_ID')! }));
    expect(keepers).toHaveLength(3);
    const raft = [...keeperXml.matchAll(/<server><id>(\d+)<\/id><hostname>([^<]+)<\/hostname>/g)].map((m) => ({ id: m[1], name: m[2] }));
    expect(raft.sort((a, b) => a.name!.localeCompare(b.name!))).toEqual(keepers.sort((a, b) => a.name.localeCompare(b.name)));
    const zk = [...serverXml.matchAll(/<node><host>([^<]+)<\/host><port>(\d+)<\/port><\/node>/g)].map((m) => m[1]);
    expect(zk.sort()).toEqual(keepers.map((k) => k.name).sort());
    expect(serverXml).toContain('<port>9181</port>');
    expect(keeperXml).toContain('<tcp_port>9181</tcp_port>');
  });

  it('names one cluster everywhere, and the configuration accepts it', () => {
    const cluster = /<remote_servers replace="true">\s*<([A-Za-z0-9_]+)>/.exec(serverXml)![1]!;
    expect(/<cluster>([^<]+)<\/cluster>/.exec(serverXml)![1]).toBe(cluster);
    expect(field(compose, 'CLICKHOUSE_CLUSTER')).toBe(cluster);
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch-s1-r1:8123', CLICKHOUSE_CLUSTER: cluster }).store.cluster).toBe(cluster);
  });

  it('pins the ClickHouse image of docker-compose.yml, for the servers and Keeper', () => {
    const pinned = /image: (clickhouse\/clickhouse-server:[0-9.]+)/.exec(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'))![1];
    expect(/x-clickhouse-image: &clickhouse-image (\S+)/.exec(compose)![1]).toBe(pinned);
    expect([...compose.matchAll(/image: (clickhouse\/\S+)/g)]).toEqual([]); // every ClickHouse service takes the anchor
  });

  it('mounts files that exist', () => {
    const mounts = [...compose.matchAll(/(?:- |\[)(\.\.?\/[^:\s]+):/g)].map((m) => m[1]!);
    expect(mounts.length).toBeGreaterThan(10);
    for (const m of mounts) expect(fs.existsSync(path.join(DIR, m)), m).toBe(true);
    for (const b of ['migrate', 'worker-1', 'worker-2', 'collector-1', 'collector-2']) expect(svc.get(b), b).toMatch(/build: \.\.\/\.\./);
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
  });
});
