/**
 * Fuzzing the wire-format validator with fast-check: random and mutated
 * batches, parsed from JSON text as the collector would. Whatever comes in,
 * validateBatch either refuses the batch with a BatchError or sorts every
 * event into accepted or rejected, and an accepted event always satisfies
 * docs/design.md §4.2 as restated by the independent oracle below.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EVENTS } from './limits.js';
import { BatchError, validateBatch } from './validate.js';

const sites = { demo: ['localhost', '127.0.0.1'], shop: ['shop.example', 'shop.example:8443'] } as const;
const HOSTS: Record<string, readonly string[]> = sites;

// ---------------------------------------------------------------- the oracle (docs/design.md §4.2 restated)

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const wellFormedStr = (v: Json, min: number, max: number): v is string =>
  typeof v === 'string' && v.length >= min && v.length <= max && (v as unknown as { isWellFormed(): boolean }).isWellFormed();
const numIn = (v: Json, min: number, max: number, int = false) =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!int || Number.isInteger(v));
const keysWithin = (o: Record<string, Json>, allowed: string[]) => Object.keys(o).every((k) => allowed.includes(k));
const ID = /^[A-Za-z0-9_-]{8,64}$/;

function hostOk(url: string, site: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const hosts = HOSTS[site] ?? [];
  return hosts.includes(u.hostname) || (u.port !== '' && hosts.includes(u.host));
}

const ALLOWED: Record<string, string[]> = {
  pageview: ['type', 'id', 'pageview_id', 'ts', 'url', 'referrer', 'viewport'],
  click: ['type', 'id', 'pageview_id', 'ts', 'url', 'click', 'viewport'],
  engagement: ['type', 'id', 'pageview_id', 'ts', 'url', 'engagement'],
  custom: ['type', 'id', 'pageview_id', 'ts', 'url', 'custom'],
};

/** Whether one event is valid for `site`, straight from the spec's limits. */
function oracleAccepts(e: Json, site: string): boolean {
  if (!isObj(e) || typeof e.type !== 'string' || !Object.hasOwn(ALLOWED, e.type)) return false;
  if (!keysWithin(e, ALLOWED[e.type]!)) return false;
  if (!wellFormedStr(e.id, 8, 64) || !ID.test(e.id) || !wellFormedStr(e.pageview_id, 8, 64) || !ID.test(e.pageview_id)) return false;
  if (!wellFormedStr(e.url, 1, 2048) || !/^https?:\/\//i.test(e.url) || !hostOk(e.url, site)) return false;
  if ('ts' in e && !numIn(e.ts, 0, 1e13, true)) return false;
  if ('viewport' in e) {
    const v = e.viewport;
    if (!isObj(v) || !keysWithin(v, ['w', 'h']) || !numIn(v.w, 0, 100_000, true) || !numIn(v.h, 0, 100_000, true)) return false;
  }
  switch (e.type) {
    case 'pageview':
      return !('referrer' in e) || wellFormedStr(e.referrer, 0, 2048);
    case 'click': {
      const c = e.click;
      return (
        isObj(c) &&
        keysWithin(c, ['selector', 'label', 'x', 'y', 'page_x', 'page_y']) &&
        wellFormedStr(c.selector, 1, 512) &&
        (!('label' in c) || wellFormedStr(c.label, 0, 64)) &&
        numIn(c.x, 0, 1) &&
        numIn(c.y, 0, 1) &&
        numIn(c.page_x, 0, 100_000) &&
        numIn(c.page_y, 0, 100_000)
      );
    }
    case 'engagement': {
      const g = e.engagement;
      return isObj(g) && keysWithin(g, ['visible_ms', 'scroll_depth']) && numIn(g.visible_ms, 0, 86_400_000) && numIn(g.scroll_depth, 0, 100);
    }
    default: {
      const c = e.custom;
      if (!isObj(c) || !keysWithin(c, ['name', 'props'])) return false;
      if (!wellFormedStr(c.name, 1, 64) || !/^[A-Za-z][A-Za-z0-9_.:-]*$/.test(c.name)) return false;
      if (!('props' in c)) return true;
      const p = c.props;
      if (!isObj(p) || Object.keys(p).length > 20) return false;
      return Object.entries(p).every(
        ([k, v]) =>
          /^[A-Za-z0-9_.-]{1,64}$/.test(k) &&
          !['__proto__', 'constructor', 'prototype'].includes(k) &&
          (typeof v === 'boolean' || numIn(v, -1e15, 1e15) || wellFormedStr(v, 0, 128)),
      );
    }
  }
}

// ---------------------------------------------------------------- arbitraries

const id = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
const host = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('localhost', '127.0.0.1', 'shop.example', 'shop.example:8443') },
  { weight: 1, arbitrary: fc.constantFrom('evil.example', 'localhost:9999', 'shop.example:1', 'localhost.', '[::1]') },
);
const scheme = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('http', 'https') }, { weight: 1, arbitrary: fc.constantFrom('HTTP', 'ftp', 'javascript') });
const url = fc.tuple(scheme, host, fc.stringMatching(/^[a-z0-9/._~%?=&-]{0,40}$/)).map(([s, h, p]) => `${s}://${h}/${p}`);
const viewport = fc.record({ w: fc.integer({ min: 0, max: 100_000 }), h: fc.integer({ min: 0, max: 100_000 }) });
const common = { id, pageview_id: id, url, ts: fc.option(fc.integer({ min: 0, max: 1e13 }), { nil: undefined }) };
const unit = fc.double({ min: 0, max: 1, noNaN: true });

const validEvent = fc.oneof(
  fc.record({ type: fc.constant('pageview'), ...common, referrer: fc.option(url, { nil: undefined }), viewport: fc.option(viewport, { nil: undefined }) }),
  fc.record({
    type: fc.constant('click'),
    ...common,
    click: fc.record(
      { selector: fc.string({ minLength: 1, maxLength: 40 }), label: fc.string({ maxLength: 64 }), x: unit, y: unit, page_x: fc.nat(100_000), page_y: fc.nat(100_000) },
      { requiredKeys: ['selector', 'x', 'y', 'page_x', 'page_y'] },
    ),
  }),
  fc.record({ type: fc.constant('engagement'), ...common, engagement: fc.record({ visible_ms: fc.nat(86_400_000), scroll_depth: fc.integer({ min: 0, max: 100 }) }) }),
  fc.record({
    type: fc.constant('custom'),
    ...common,
    custom: fc.record(
      {
        name: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:-]{0,20}$/),
        props: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/), fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.boolean()), { maxKeys: 20 }),
      },
      { requiredKeys: ['name'] },
    ),
  }),
);

// Values JSON cannot carry are written as sentinels and spliced into the JSON text.
const SENTINELS: Record<string, string> = { '"\u0000INF"': '1e400', '"\u0000NINF"': '-1e400', '"\u0000BIG"': '123456789012345678901234567890' };

const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    '\u0000INF', '\u0000NINF', '\u0000BIG', -1, -0.5, 1.5, 1e13 + 1, 1e16, 0.1, '', 'x'.repeat(50_000), '\ud800', 'a\udc00b', 'demo\r\n', null, true, [], {},
    { __proto__: null, polluted: true }, 'javascript:alert(1)', 'http://localhost/\u0000', 'https://@localhost/', 'http://local%68ost/',
  ),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.nat(), { maxLength: 2000 }),
);
const fieldName = fc.constantFrom(
  'type', 'id', 'pageview_id', 'ts', 'url', 'referrer', 'viewport', 'click', 'engagement', 'custom', '__proto__', 'constructor', 'prototype', 'extra',
);
const subField = fc.constantFrom('w', 'h', 'selector', 'label', 'x', 'y', 'page_x', 'page_y', 'visible_ms', 'scroll_depth', 'name', 'props', '__proto__', 'constructor');

// Strings that are almost right: a lone surrogate inside, one character too long, control characters.
const nastyString = fc.oneof(
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\ud800', '\udfff', '\udc00\ud800'), fc.string({ maxLength: 10 })).map((p) => p.join('')),
  fc.constantFrom('s'.repeat(65), 's'.repeat(257), 's'.repeat(513), 's'.repeat(2049), '\r\n', '\u0000', ''),
);
const nastyNumber = fc.oneof(
  fc.constantFrom(-1, -Number.MIN_VALUE, 1.0000001, 1.5, 100_001, 100.5, 1_000_001, 86_400_001, 1e15 + 2, 1e13 + 1, 0.5, '\u0000INF', '\u0000BIG', '1', null),
  fc.double(),
);

const NUMBER_HOME: Record<string, string> = { w: 'viewport', h: 'viewport', x: 'click', y: 'click', page_x: 'click', page_y: 'click', visible_ms: 'engagement', scroll_depth: 'engagement' };

type Mutation = { op: 'set' | 'delete'; field: string; sub?: string; value?: unknown; prop?: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), field: fc.constantFrom('referrer', 'url', 'id'), value: nastyString }),
  fc.record({ op: fc.constant('set' as const), field: fc.constantFrom('click', 'custom'), sub: fc.constantFrom('selector', 'label', 'name'), value: nastyString }),
  fc.record({ op: fc.constant('set' as const), field: fc.constant('custom'), sub: fc.constant('props'), prop: fc.constantFrom('a', 'b.c'), value: fc.oneof(nastyString, nastyNumber) }),
  fc.record({
    op: fc.constant('set' as const),
    field: fc.constant('custom'),
    sub: fc.constant('props'),
    value: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/), fc.integer(), { minKeys: 19, maxKeys: 23 }),
  }),
  fc.record({ op: fc.constant('set' as const), field: fc.constant('ts'), value: nastyNumber }),
  fc
    .record({ sub: fc.constantFrom('w', 'h', 'x', 'y', 'page_x', 'page_y', 'visible_ms', 'scroll_depth'), value: nastyNumber })
    .map(({ sub, value }) => ({ op: 'set' as const, field: NUMBER_HOME[sub]!, sub, value })),
  fc.record({ op: fc.constant('set' as const), field: fieldName, value: hostile }),
  fc.record({ op: fc.constant('delete' as const), field: fieldName }),
  fc.record({ op: fc.constant('set' as const), field: fc.constantFrom('viewport', 'click', 'engagement', 'custom'), sub: subField, value: hostile }),
  fc.record({ op: fc.constant('set' as const), field: fc.constant('custom'), sub: fc.constant('props'), prop: fc.constantFrom('__proto__', 'constructor', 'prototype', 'ok', 'bad key', 'k'.repeat(65)), value: hostile }),
);

function mutate(e: Record<string, unknown>, m: Mutation): void {
  // Own properties only (defineProperty), so `__proto__` becomes a key like JSON.parse makes it.
  const put = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  if (m.op === 'delete') return void delete e[m.field];
  if (m.sub === undefined) return void put(e, m.field, m.value);
  if (!isObj(e[m.field])) put(e, m.field, {});
  const inner = e[m.field] as Record<string, unknown>;
  if (m.prop === undefined) return void put(inner, m.sub, m.value);
  if (!isObj(inner[m.sub])) put(inner, m.sub, {});
  put(inner[m.sub] as Record<string, unknown>, m.prop, m.value);
}

function toJsonText(body: unknown): string {
  let text = JSON.stringify(body);
  for (const [k, v] of Object.entries(SENTINELS)) text = text.split(JSON.stringify(k.slice(1, -1))).join(v);
  return text;
}

const mutatedBatch = fc
  .record({
    site: fc.oneof({ weight: 15, arbitrary: fc.constantFrom('demo', 'shop') }, { weight: 1, arbitrary: hostile }),
    events: fc.array(fc.tuple(validEvent, fc.array(mutation, { maxLength: 3 })), { minLength: 1, maxLength: 20 }),
    extra: fc.oneof({ weight: 15, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fieldName, hostile) }),
  })
  .map(({ site, events, extra }) => {
    const body: Record<string, unknown> = {
      site,
      events: events.map(([e, ms]) => {
        const copy = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
        for (const m of ms) mutate(copy, m);
        return copy;
      }),
    };
    if (extra) Object.defineProperty(body, extra[0], { value: extra[1], enumerable: true });
    return toJsonText(body);
  });

// ---------------------------------------------------------------- properties

/** Runs the validator as the collector does and checks every promise of it against the oracle. */
function checkAgainstOracle(text: string): void {
  const body = JSON.parse(text) as Json;
  let result: ReturnType<typeof validateBatch>;
  try {
    result = validateBatch(body, sites);
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    expect([400, 403]).toContain(err.status);
    expect(err.message.length).toBeLessThan(200);
    return;
  }
  // Returned: the batch itself was well formed.
  expect(isObj(body) && keysWithin(body, ['site', 'events'])).toBe(true);
  const b = body as { site: string; events: Json[] };
  expect(Object.hasOwn(sites, b.site)).toBe(true);
  expect(b.events.length).toBeGreaterThanOrEqual(1);
  expect(b.events.length).toBeLessThanOrEqual(MAX_EVENTS);
  const rejectedAt = new Set(result.rejected.map((r) => r.index));
  expect(result.events.length + rejectedAt.size).toBe(b.events.length);
  const accepted = b.events.filter((_, i) => !rejectedAt.has(i));
  accepted.forEach((e, i) => {
    // Never accepts an invalid event, and hands on exactly what was checked.
    expect(oracleAccepts(e, b.site), JSON.stringify(e).slice(0, 300)).toBe(true);
    const out = result.events[i]!;
    const expected = { ...(e as Record<string, unknown>) };
    if (expected.referrer === '') delete expected.referrer;
    expect(out).toEqual(expected);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
  for (const r of result.rejected) {
    expect(oracleAccepts(b.events[r.index], b.site), `${r.reason}: ${JSON.stringify(b.events[r.index]).slice(0, 300)}`).toBe(false);
    expect(r.reason.length).toBeLessThan(200);
    expect(r.field).toMatch(/^[a-z_]+$/);
  }
}

describe('validateBatch under fuzzing', () => {
  it('mutated batches: never crashes, never accepts an invalid event, never loses a valid one', () => {
    fc.assert(fc.property(mutatedBatch, checkAgainstOracle), { numRuns: 1500 });
  });

  it('valid batches are accepted whole', () => {
    fc.assert(
      fc.property(fc.array(validEvent, { minLength: 1, maxLength: MAX_EVENTS }), (events) => {
        const ok = events.filter((e) => oracleAccepts(JSON.parse(JSON.stringify(e)), 'demo'));
        const text = JSON.stringify({ site: 'demo', events: ok.length ? ok : events });
        checkAgainstOracle(text);
        if (ok.length) expect(validateBatch(JSON.parse(text), sites).rejected).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('random JSON bodies: only BatchError, never another exception', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), checkAgainstOracle), { numRuns: 1000 });
  });

  it('arbitrary values (not only JSON) never throw anything but a BatchError', () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withMap: true, withBigInt: true, withDate: true }), (v) => {
        try {
          validateBatch(v, sites);
          validateBatch({ site: 'demo', events: [v] }, sites);
        } catch (err) {
          expect(err).toBeInstanceOf(BatchError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves Object.prototype untouched', () => {
    const text = '{"site":"demo","events":[{"type":"custom","id":"abcdefgh","pageview_id":"abcdefgh","url":"http://localhost/","custom":{"name":"x","props":{"__proto__":{"polluted":1}}}}],"__proto__":{"polluted":1}}';
    expect(() => validateBatch(JSON.parse(text), sites)).toThrow(BatchError);
    const noTop = text.replace(',"__proto__":{"polluted":1}}', '}');
    const r = validateBatch(JSON.parse(noTop), sites);
    expect(r.rejected).toEqual([{ index: 0, reason: 'custom.props: key "__proto__" is not allowed', field: 'custom' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
