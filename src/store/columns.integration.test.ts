/**
 * The events column table (row.ts) against the table the migrations create
 * (schemas/001_events.sql), on a fresh embedded ClickHouse: same names, same
 * order, same types. The SQL stays the source of the schema and the TS table
 * the source of everything the code derives; this keeps the two from
 * drifting. Then a row of every column goes through encodeRows and the INSERT
 * column list and reads back unchanged.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import { openStore, type Store } from './client.js';
import { migrate } from './migrate.js';
import { emptyRow, encodeRows, EVENT_COLUMNS, EVENT_TABLE, type EventRow } from '../anonymise/row.js';

const dir = tempDir('row');
let store: Store;

async function rows<T>(query: string): Promise<T[]> {
  return (await store.client.query({ query, format: 'JSONEachRow' })).json<T>();
}

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('events column table (src/anonymise/row.ts)', () => {
  it('has the migrated table\'s columns: same names, same order, same types', async () => {
    const inStore = await rows<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'events' ORDER BY position",
    );
    // One line a column, so a difference reads as the column that differs.
    expect(EVENT_TABLE.map((c) => `${c.name} ${c.type}`)).toEqual(inStore.map((c) => `${c.name} ${c.type}`));
    expect(EVENT_COLUMNS).toEqual(inStore.map((c) => c.name));
  });

  it('describes every column', () => {
    for (const c of EVENT_TABLE) {
      expect(c.holds, c.name).not.toBe('');
      expect(c.rule, c.name).not.toBe('');
    }
  });

  it('encodes rows the table reads back unchanged', async () => {
    const ts = new Date().toISOString().replace('T', ' ').replace('Z', '');
    // A value in every column, made from its type (so a new column is covered without listing it here); strings
    // carry quotes, a backslash, a newline and non-ASCII to exercise the JSON encoding.
    const sample = (c: (typeof EVENT_TABLE)[number]): unknown => {
      if (c.type === 'UInt64') return '18446744073709551557';
      if (/^(LowCardinality\()?String\)?$/.test(c.type)) return `${c.name} "q" \\ ü\n`;
      if (/^UInt(8|16|32)$/.test(c.type)) return 7;
      if (c.type === 'Float32') return 0.42;
      if (c.type.startsWith('DateTime64')) return ts;
      if (c.type.startsWith('Enum8')) return 'engagement';
      if (c.type.startsWith('Map(')) return { items: '2', 'ü"\\': 'x"y' };
      throw new Error(`no sample value for ${c.name} ${c.type}: add one here`);
    };
    const full = Object.fromEntries(EVENT_TABLE.map((c) => [c.name, sample(c)])) as EventRow;
    full.site = 'roundtrip';
    full.event_id = '2';
    // The pipeline always sets the ids; every other column as emptyRow leaves it.
    const empty = { ...emptyRow(), site: 'roundtrip', ts, event_id: '1', pageview_id: '4', visitor_id: '5' };
    const { stream } = await store.client.exec({
      query: `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`,
      values: Readable.from([encodeRows([full, empty])], { objectMode: false }),
    });
    stream.resume();
    // UInt64 as strings, as the row has them (the embedded engine writes 64-bit integers into JSON unquoted).
    const select = EVENT_TABLE.map((c) => (c.type === 'UInt64' ? `toString(${c.name}) AS ${c.name}` : c.name)).join(', ');
    const back = await rows<EventRow>(`SELECT ${select} FROM events WHERE site = 'roundtrip' ORDER BY event_id DESC`);
    expect(back).toEqual([full, empty]);
  });
});
