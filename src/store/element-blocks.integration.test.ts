/**
 * Element heatmaps of labelled blocks (issue 14): a click inside a `data-track`
 * block that is not in a product tile carries block_x/block_y relative to that
 * block (src/tracker/script/click.ts), and the aggregation counts it in the
 * frame 'block' of agg_element_cells, named by the label (schemas/aggregates.sql).
 * A click with a label but no block coordinates (a tracker from before) is not
 * put in the block's top-left cell; a tile keeps its own frame.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTs, perVisitor } from '../../test/support/rows.js';
import { tempDir } from '../../test/support/tmp.js';
import type { EventRow } from '../anonymise/types.js';
import { aggregateNow } from './aggregator.js';
import { openStore, type Store } from './client.js';
import { EventInserter } from './inserter.js';
import { migrate } from './migrate.js';

const dir = tempDir('element-blocks');
let store: Store;
const day = new Date().toISOString().slice(0, 10);
const click = (patch: Partial<EventRow>): Partial<EventRow> => ({
  ts: formatTs(Date.now()),
  path: '/demo/',
  type: 'click',
  viewport_w: 1440,
  click_selector: 'main>section.about>a.more',
  click_x: 0.5,
  click_y: 0.5,
  ...patch,
});

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined, database: 'analytics', username: undefined, password: undefined, retentionDays: 180, aggregateRetentionMonths: 25, kAnonymity: 5, migrateOnStart: true });
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  const ins = new EventInserter(store.client, { batchRows: 10_000, flushMs: 10 });
  await ins.add(
    [
      // 5 visitors click the right end of the top of the labelled block.
      ...perVisitor(5, 100, () => click({ click_label: 'about-demo', block_x: 0.95, block_y: 0.1 })),
      // 5 visitors send the label without block coordinates (an older tracker): no block cell.
      ...perVisitor(5, 200, () => click({ click_label: 'about-demo', block_x: 0, block_y: 0 })),
      // 5 visitors click a tile with the same label: the tile frame, not the block's.
      ...perVisitor(5, 300, () => click({ click_label: 'about-demo', item_id: 'p-1', item_list: 'grid', item_pos: 1, block_x: 0.1, block_y: 0.9 })),
    ],
    'seed',
  );
  await aggregateNow(store.client);
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('element heatmap of a data-track block', () => {
  it('counts clicks in the block frame by where in the block they landed', async () => {
    const rs = await store.client.query({
      query: `SELECT frame, element, cell_x, cell_y, clicks FROM v_element_heatmap(site='shop', date_from='${day}', date_to='${day}', page='/demo/') WHERE frame != 'element' ORDER BY frame, cell_y, cell_x`,
      format: 'JSONEachRow',
    });
    const got = (await rs.json<{ frame: string; element: string; cell_x: number; cell_y: number; clicks: string | number }>()).map((r) => [r.frame, r.element, r.cell_x, r.cell_y, Number(r.clicks)]);
    expect(got).toEqual([
      ['block', 'about-demo', 4, 0, 5],
      ['tile', 'grid', 0, 4, 5],
    ]);
  });
});
