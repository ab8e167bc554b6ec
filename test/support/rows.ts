/** Builder for anonymised `events` rows, to seed ClickHouse directly in store tests. */
import { emptyRow, type EventRow } from '../../src/anonymise/row.js';

let seq = 1n;

export function formatTs(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export function row(patch: Partial<EventRow> = {}): EventRow {
  const id = (seq++ * 2654435761n) % 18446744073709551557n;
  // Columns not named here keep their empty value (src/anonymise/row.ts).
  return {
    ...emptyRow(),
    site: 'shop', ts: formatTs(Date.now()), type: 'pageview', event_id: String(id), pageview_id: String(id + 1n), visitor_id: '1',
    path: '/', ip_prefix: '192.0.2.0/24', browser: 'Chrome', os: 'Windows', device_type: 'desktop', viewport_w: 1440, viewport_h: 900,
    ...patch,
  };
}

/** A /24 of its own for visitor id `v` (the analyst views count distinct networks as well as visitors). */
export function networkOf(v: number): string {
  return `10.${(v >> 8) & 255}.${v & 255}.0/24`;
}

/** Rows for `visitors` distinct visitors (ids base..base+n-1), each on a network of its own, one factory call each. */
export function perVisitor(visitors: number, base: number, make: (visitorId: string, i: number) => Partial<EventRow>): EventRow[] {
  return Array.from({ length: visitors }, (_, i) => row({ visitor_id: String(base + i), ip_prefix: networkOf(base + i), ...make(String(base + i), i) }));
}
