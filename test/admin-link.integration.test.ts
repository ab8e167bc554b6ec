/**
 * The admin's linking attack (issue 12, item 2): with every row of `events`
 * and no key at all, link one visitor's daily ids across days by what the
 * rows share: network prefix, browser, OS, device type and viewport. Ids
 * change every day; the prefix and the device do not. A visitor alone in
 * their /24 with a common browser is singled out by the prefix alone.
 *
 * The defence: a row's prefix is reset two days after its receive time
 * (column TTL, schemas/008_ip_prefix_two_days.sql), the window in which the
 * aggregates are computed from the rows (insert time; crash repair of today
 * and yesterday). Without it this test fails: the old rows keep their /24
 * and the search links all six people. With it the old rows match every one
 * of today's visitors alike, and nothing links; a control run on rows that
 * keep the prefix shows the search itself works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batch, BROWSER_UA, EventBuilder } from './support/builders.js';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';

const DAY = 86_400_000;
const VICTIM = '203.0.113.77';
const OTHERS = ['198.51.100.10', '192.0.2.20', '198.18.0.30', '100.64.1.40', '203.0.114.50'];

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({ TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await p?.close();
});

interface Row {
  day: string;
  visitor_id: string;
  ip_prefix: string;
  browser: string;
  os: string;
  device_type: string;
  viewport_w: number;
  viewport_h: number;
}

/** Old visitor-days linked to exactly one of today's visitor ids by equal quasi-identifiers. */
function links(rows: Row[], oldDay: string, today: string): [string, string][] {
  const key = (r: Row) => JSON.stringify([r.ip_prefix, r.browser, r.os, r.device_type, r.viewport_w, r.viewport_h]);
  const todays = new Map<string, Set<string>>();
  for (const r of rows.filter((r) => r.day === today)) todays.set(key(r), (todays.get(key(r)) ?? new Set()).add(r.visitor_id));
  const out: [string, string][] = [];
  for (const r of rows.filter((r) => r.day === oldDay)) {
    const match = todays.get(key(r));
    if (match?.size === 1) out.push([r.visitor_id, [...match][0]!]);
  }
  return out;
}

describe('an admin with every row links a visitor across days by network and device', () => {
  it('links them while rows keep the prefix, and no longer once it is two days old', async () => {
    const now = Date.now();
    const old = now - 3 * DAY;
    // Today, through the whole pipeline: six people, the victim alone in their /24, all on the same browser.
    for (const ip of [VICTIM, ...OTHERS]) {
      expect((await p.post(batch([EventBuilder.pageview('http://localhost/demo/cart')]), { 'X-Forwarded-For': ip, 'User-Agent': BROWSER_UA })).status).toBe(202);
    }
    expect(await p.waitForCount('SELECT count() n FROM events', 6)).toBe(6);
    // The same people three days ago, as the store then kept them: the same rows under that day's ids and time.
    await p.app.store.client.command({
      query: `INSERT INTO events SELECT * REPLACE (ts - INTERVAL 3 DAY AS ts, cityHash64(visitor_id, 'day-3') AS visitor_id,
              cityHash64(pageview_id, 'day-3') AS pageview_id, cityHash64(event_id, 'day-3') AS event_id) FROM events`,
    });
    expect(await p.waitForCount('SELECT count() n FROM events', 12)).toBe(12);
    const read = () =>
      p.rows<Row>('SELECT DISTINCT toString(toDate(ts)) AS day, toString(visitor_id) AS visitor_id, ip_prefix, browser, os, device_type, viewport_w, viewport_h FROM events');
    const oldDay = new Date(old).toISOString().slice(0, 10);
    const today = new Date(now).toISOString().slice(0, 10);

    // Two days on, the old rows' prefix is reset (ClickHouse applies the column TTL on insert and on its TTL merges;
    // forced here for parts written before the TTL existed).
    await p.app.store.client.command({ query: 'ALTER TABLE events MATERIALIZE TTL SETTINGS mutations_sync = 2' });
    const rows = await read();
    expect(new Set(rows.map((r) => r.visitor_id)).size, 'ids differ every day').toBe(12);
    expect(rows.filter((r) => r.day === oldDay).map((r) => r.ip_prefix)).toEqual(Array(6).fill(''));
    expect(rows.filter((r) => r.day === today).every((r) => r.ip_prefix !== ''), "today's rows keep it: the views count networks from it").toBe(true);
    expect(links(rows, oldDay, today)).toEqual([]);

    // Control: had the old rows kept their prefix (as they did before schemas/008), the same search links all six
    // people, the victim included.
    const withPrefix = rows.filter((r) => r.day === today).map((r) => ({ ...r, day: oldDay, visitor_id: `old-${r.visitor_id}` }));
    const control = links([...withPrefix, ...rows.filter((r) => r.day === today)], oldDay, today);
    expect(control).toHaveLength(6);
    const victimToday = rows.find((r) => r.day === today && r.ip_prefix === '203.0.113.0/24')!.visitor_id;
    expect(control).toContainEqual([`old-${victimToday}`, victimToday]);
  });
});
