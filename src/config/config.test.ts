import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('fills defaults that work on a development machine', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.store.url).toBeUndefined();
    expect(c.sites).toEqual({ demo: ['localhost', '127.0.0.1'] });
    expect(c.http.trustProxy).toBe(false);
    expect(c.anonymise).toMatchObject({ ipv4Prefix: 24, ipv6Prefix: 40 });
    expect(c.store.retentionDays).toBe(180);
    expect(c.store.migrateOnStart).toBe(true);
    expect(loadConfig({ MIGRATE_ON_START: 'false' }).store.migrateOnStart).toBe(false);
    expect(c.queue.attempts).toBe(8);
    expect(loadConfig({ JOB_ATTEMPTS: '2' }).queue.attempts).toBe(2);
    expect(Object.isFrozen(c.sites)).toBe(true);
    // Generous enough for a benchmark at ~10k req/s from one address, off with 0.
    expect(c.rateLimit).toEqual({ windowMs: 10_000, perAddress: 200_000, perSite: 1_000_000, secret: undefined });
    expect(loadConfig({ RATE_LIMIT_PER_SITE: '0', RATE_LIMIT_PER_ADDRESS: '5' }).rateLimit).toMatchObject({ perSite: 0, perAddress: 5 });
  });

  it('parses SITES, TRUST_PROXY forms and numbers', () => {
    const c = loadConfig({ SITES: '{"shop":["Shop.Example","www.shop.example"]}', TRUST_PROXY: 'loopback', PORT: '9000', IPV4_PREFIX: '16' });
    expect(c.sites).toEqual({ shop: ['shop.example', 'www.shop.example'] });
    expect(c.http.trustProxy).toBe('loopback');
    expect(c.http.port).toBe(9000);
    expect(c.anonymise.ipv4Prefix).toBe(16);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).http.trustProxy).toBe('10.0.0.0/8, 127.0.0.1');
  });

  it('takes SITES in its object form: hosts plus route templates, query keys, allowlists and prop rules', () => {
    const c = loadConfig({
      SITES: JSON.stringify({
        shop: { hosts: ['Shop.Example'], routes: ['/wishlist/:id', '/account/*'], query: ['sku'], selectors: ['hero-xmas'], labels: ['hero-xmas'], props: { items: 'number', position: ['top', 'bottom'] } },
        blog: ['blog.example'],
      }),
    });
    expect(c.sites).toEqual({ shop: ['shop.example'], blog: ['blog.example'] });
    expect(c.anonymise.siteRules.shop).toEqual({ hosts: ['shop.example'], routes: ['/wishlist/:id', '/account/*'], query: ['sku'], selectors: ['hero-xmas'], labels: ['hero-xmas'], props: { items: 'number', position: ['top', 'bottom'] } });
    expect(c.anonymise.siteRules.blog).toEqual({ routes: [], query: [], selectors: [], labels: [], props: {} });
    // The demo shop is configured by default; utm_term and utm_content are off unless asked for.
    const d = loadConfig({});
    expect(d.sites).toEqual({ demo: ['localhost', '127.0.0.1'] });
    expect(d.anonymise.siteRules.demo!.routes).toContain('/demo/wishlist/:id');
    expect(d.anonymise.utmParams).toEqual(['utm_source', 'utm_medium', 'utm_campaign']);
    expect(loadConfig({ UTM_PARAMS: 'utm_source,utm_term' }).anonymise.utmParams).toEqual(['utm_source', 'utm_term']);
  });

  it('fails with a message naming the setting and what is allowed', () => {
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(bad({ PORT: 'eighty' })).toMatch(/PORT/);
    expect(bad({ SITES: 'not json' })).toMatch(/SITES: must be a JSON object/);
    expect(bad({ SITES: '{"Bad Key":["x"]}' })).toMatch(/SITES at Bad Key: Invalid key/);
    expect(bad({ SITES: '{"s":{"hosts":["x.example"],"routes":["wishlist/:id"]}}' })).toMatch(/SITES at s\.routes\.0: route templates are paths/);
    expect(bad({ SITES: '{"s":{"hosts":["x.example"],"routes":["/a/*/b"]}}' })).toMatch(/'\*' may only end a route template/);
    expect(bad({ SITES: '{"s":{"hosts":["x.example"],"props":{"k":"text"}}}' })).toMatch(/SITES at s/);
    expect(bad({ SITES: '{"s":{"hosts":["x.example"],"typo":1}}' })).toMatch(/SITES at s/);
    expect(bad({ UTM_PARAMS: 'utm_source,q' })).toMatch(/UTM_PARAMS.*comma-separated, of utm_source/);
    expect(bad({ IPV4_PREFIX: '32' })).toMatch(/IPV4_PREFIX/);
    expect(bad({ IPV6_PREFIX: '64' })).toMatch(/IPV6_PREFIX/);
    expect(bad({ REDIS_URL: 'nope' })).toMatch(/REDIS_URL/);
    expect(bad({ RATE_LIMIT_WINDOW_MS: '10' })).toMatch(/RATE_LIMIT_WINDOW_MS/);
    expect(bad({ RATE_LIMIT_PER_ADDRESS: '-1' })).toMatch(/RATE_LIMIT_PER_ADDRESS/);
    // One attempt would dead-letter the innocent batch-mates of a poison job without their isolated retry.
    expect(bad({ JOB_ATTEMPTS: '1' })).toMatch(/JOB_ATTEMPTS: must be at least 2/);
    expect(bad({ JOB_ATTEMPTS: '0' })).toMatch(/JOB_ATTEMPTS/);
    const rl = bad({ RATE_LIMIT_SECRET: 'short-secret' });
    expect(rl).toMatch(/RATE_LIMIT_SECRET/);
    expect(rl).not.toContain('short-secret');
    const secret = bad({ ADMIN_TOKEN: 'short-secret' });
    expect(secret).toMatch(/ADMIN_TOKEN/);
    expect(secret).not.toContain('short-secret');
    // Collector identities: a key never echoed, an id and key only together, trusted keys as a JSON object.
    const key = bad({ COLLECTOR_ID: 'c1', COLLECTOR_SIGNING_KEY: 'not-a-key' });
    expect(key).toMatch(/COLLECTOR_SIGNING_KEY: must be a base64 Ed25519 private key/);
    expect(key).not.toContain('not-a-key');
    expect(bad({ COLLECTOR_ID: 'c1' })).toMatch(/COLLECTOR_ID and COLLECTOR_SIGNING_KEY go together/);
    expect(bad({ TRUSTED_COLLECTORS: '[1]' })).toMatch(/TRUSTED_COLLECTORS/);
    expect(bad({ TRUSTED_COLLECTORS: 'nope' })).toMatch(/TRUSTED_COLLECTORS: must be JSON/);
    expect(bad({ JOB_MAX_AGE_HOURS: '0' })).toMatch(/JOB_MAX_AGE_HOURS/);
  });

  it('reads the job age window and signing identities', () => {
    const pub = Buffer.alloc(32, 1).toString('base64');
    const c = loadConfig({ JOB_MAX_AGE_HOURS: '48', COLLECTOR_ID: 'c1', COLLECTOR_SIGNING_KEY: pub, TRUSTED_COLLECTORS: JSON.stringify({ c1: pub }) });
    expect(c.queue.maxJobAgeMs).toBe(48 * 3_600_000);
    expect(c.signing).toEqual({ collectorId: 'c1', signingKey: pub, trustedCollectors: { c1: pub } });
    expect(loadConfig({}).signing).toEqual({ collectorId: undefined, signingKey: undefined, trustedCollectors: {} });
  });
});
