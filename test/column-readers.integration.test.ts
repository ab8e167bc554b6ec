/**
 * Every stored column has a reader and a reason (issue 12, item 2). The
 * privacy report derives, from the migrated store itself, who reads each
 * column of every table holding event data: the views and materialised
 * views (their SQL as the store has it), the daily rollup's statements, and
 * the few code readers named in src/anonymise/row.ts (`readBy`) and
 * scripts/privacy-report.ts (CODE_READERS). A column nobody reads fails
 * here: drop it (a numbered migration) or give it a reader. A column kept
 * for a reader not built yet says so (`awaiting: …`), and the list of those
 * is pinned, so it cannot grow silently.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { openStore, type Store } from '../src/store/client.js';
import { migrate, migrationVars } from '../src/store/migrate.js';
import { buildPrivacyReport, type PrivacyReport } from '../scripts/privacy-report.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('column-readers');
const config = loadConfig({ DATA_DIR: dir });
let store: Store;
let report: PrivacyReport;

beforeAll(async () => {
  store = await openStore(config.store);
  await migrate(store.client, migrationVars(config.store));
  report = await buildPrivacyReport(store, config);
});
afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('every column of event data has a reader', () => {
  it('covers events and every table filled from it', () => {
    const eventData = report.tables.filter((t) => t.eventData).map((t) => t.name);
    expect(eventData).toEqual(expect.arrayContaining(['events', 'agg_pages_daily', 'agg_visitor_days', 'agg_engagement_daily', 'agg_transitions_daily']));
    // Every table holding a visitor hash holds event data.
    for (const t of report.tables) if (t.columns.some((c) => c.name === 'visitor_id')) expect(t.eventData, t.name).toBe(true);
  });

  it('finds a reader for each column, or a named reason it waits for one', () => {
    const unread = report.tables.filter((t) => t.eventData).flatMap((t) => t.columns.filter((c) => c.readBy.length === 0).map((c) => `${t.name}.${c.name}`));
    expect(unread).toEqual([]);
    const awaiting = report.tables.flatMap((t) => t.columns.filter((c) => c.readBy.some((r) => r.startsWith('awaiting:'))).map((c) => `${t.name}.${c.name}`));
    // quick_back (issue 14): stored by the worker, counted once the aggregates are ported (docs/pending-aggregate-changes.md).
    expect(awaiting.sort()).toEqual(['events.quick_back', 'events.utm_content', 'events.utm_term']);
  });

  it('no longer stores what nothing read', () => {
    const events = report.tables.find((t) => t.name === 'events')!.columns.map((c) => c.name);
    for (const gone of ['browser_major', 'os_major', 'device_vendor', 'language', 'referrer_path', 'host']) expect(events).not.toContain(gone);
    // ip_prefix stays: the analyst views count distinct networks per group from it.
    expect(events).toContain('ip_prefix');
  });

  it('fails for a column nobody reads', async () => {
    await store.client.command({ query: 'ALTER TABLE events ADD COLUMN zz_unread String' });
    try {
      const r = await buildPrivacyReport(store, config);
      expect(r.tables.find((t) => t.name === 'events')!.columns.find((c) => c.name === 'zz_unread')!.readBy).toEqual([]);
    } finally {
      await store.client.command({ query: 'ALTER TABLE events DROP COLUMN zz_unread' });
    }
  });
});
