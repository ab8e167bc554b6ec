/** The scale-out settings of src/config/config.ts: REDIS_URL naming a Redis Cluster, its prefix rule, CLICKHOUSE_CLUSTER. */
import { describe, expect, it } from 'vitest';
import { ConfigError, hashTag, loadConfig } from './config.js';

const problems = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('REDIS_URL naming a Redis Cluster', () => {
  it('parses nodes, credentials and TLS; defaults the prefix to {anon}', () => {
    const c = loadConfig({ REDIS_URL: 'redis+cluster://10.0.0.5:7000,redis-b.internal:7001,[::1]:7002' });
    expect(c.redis.cluster).toEqual({
      nodes: [
        { host: '10.0.0.5', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(c.redis.prefix).toBe('{anon}');
    const tls = loadConfig({ REDIS_URL: 'rediss+cluster://app:p%40ss@h1:6380', QUEUE_PREFIX: 'shop-{anon}' });
    expect(tls.redis.cluster).toMatchObject({ username: 'app', password: 'p@ss', tls: true, nodes: [{ host: 'h1', port: 6380 }] });
    expect(tls.redis.prefix).toBe('shop-{anon}');
    // One server: no cluster, the prefix stays 'anon'.
    expect(loadConfig({}).redis).toMatchObject({ cluster: undefined, prefix: 'anon' });
  });

  it('refuses a prefix without a hash tag, saying why and what to set', () => {
    const msg = problems({ REDIS_URL: 'redis+cluster://h1:7000', QUEUE_PREFIX: 'anon' });
    expect(msg).toMatch(/QUEUE_PREFIX: with a Redis Cluster .* must hold a hash tag, e\.g\. \{anon\}/);
    expect(msg).toMatch(/one slot/);
    expect(problems({ REDIS_URL: 'redis+cluster://h1:7000', QUEUE_PREFIX: 'a{}b' })).toMatch(/hash tag/);
    expect(problems({ REDIS_URL: 'redis+cluster://h1:7000', QUEUE_PREFIX: 'anon}{' })).toMatch(/hash tag/);
  });

  it('refuses malformed cluster URLs without echoing a password', () => {
    expect(problems({ REDIS_URL: 'redis+cluster://h1:7000/2' })).toMatch(/REDIS_URL: .*no database index/);
    expect(problems({ REDIS_URL: 'redis+cluster://h1' })).toMatch(/REDIS_URL: cluster node "h1" is not host:port/);
    expect(problems({ REDIS_URL: 'redis+cluster://h1:99999' })).toMatch(/not host:port/);
    expect(problems({ REDIS_URL: 'http://h1:7000' })).toMatch(/REDIS_URL: must be redis:\/\//);
    const secret = problems({ REDIS_URL: 'redis+cluster://u:hunter2secret@h1:7000/0' });
    expect(secret).toMatch(/REDIS_URL/);
    expect(secret).not.toContain('hunter2secret');
  });

  it('hashTag follows Redis Cluster: the first {…} with something inside', () => {
    expect(hashTag('{anon}:events:1')).toBe('anon');
    expect(hashTag('x{a}{b}')).toBe('a');
    expect(hashTag('{}anon')).toBeUndefined();
    expect(hashTag('anon')).toBeUndefined();
    expect(hashTag('an{on')).toBeUndefined();
  });
});

describe('CLICKHOUSE_CLUSTER', () => {
  it('names a cluster (or a macro) of a ClickHouse server', () => {
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: 'analytics_2x2' }).store.cluster).toBe('analytics_2x2');
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: '{cluster}' }).store.cluster).toBe('{cluster}');
    expect(loadConfig({}).store.cluster).toBeUndefined();
  });

  it('needs a server, and a plain name', () => {
    expect(problems({ CLICKHOUSE_CLUSTER: 'c1' })).toMatch(/CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL/);
    expect(problems({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_CLUSTER: "c1' SETTINGS x=1" })).toMatch(/CLICKHOUSE_CLUSTER: must name a cluster/);
  });
});
