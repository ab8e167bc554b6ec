import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import type { EventRow } from '../anonymise/types.js';
import type { ClickHouseClient } from '../store/client.js';
import { createFaults, FaultsRefusedError, NO_FAULTS, POISON_EVENT_NAME, POISON_FILE, STORE_DOWN_FILE } from './faults.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anon-faults-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('TEST_ONLY_FAULTS', () => {
  it('is refused in production and validated elsewhere', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', TEST_ONLY_FAULTS: 'crash-at:after-insert' })).toThrow(/TEST_ONLY_FAULTS.*refused when NODE_ENV=production/);
    expect(() => loadConfig({ TEST_ONLY_FAULTS: 'crash-at:somewhere' })).toThrow(ConfigError);
    expect(loadConfig({ TEST_ONLY_FAULTS: 'crash-at:before-insert:3, store-down-while-file' }).testOnlyFaults).toEqual(['crash-at:before-insert:3', 'store-down-while-file']);
    expect(loadConfig({}).testOnlyFaults).toEqual([]);
  });

  it('is refused by createFaults itself in production, whatever the config let through', () => {
    expect(() => createFaults(['crash-at:after-insert'], dir, { production: true })).toThrow(FaultsRefusedError);
    expect(createFaults([], dir, { production: true })).toBe(NO_FAULTS);
  });

  it('unset, builds no hooks: the store client is passed through untouched', () => {
    const client = {} as ClickHouseClient;
    expect(createFaults([], dir, { production: false })).toBe(NO_FAULTS);
    expect(NO_FAULTS.store(client)).toBe(client);
  });

  it('poisons only marked rows, only while the file exists', () => {
    const f = createFaults(['poison-while-file'], dir, { production: false });
    const rows = () => [{ custom_name: POISON_EVENT_NAME, ts: '2026-01-01 00:00:00.000' }, { custom_name: 'other', ts: '2026-01-01 00:00:00.000' }] as EventRow[];
    const a = rows();
    f.poison(a);
    expect(a[0]!.ts).toBe('2026-01-01 00:00:00.000');
    fs.writeFileSync(path.join(dir, POISON_FILE), '');
    const b = rows();
    f.poison(b);
    expect(b.map((r) => r.ts)).toEqual(['not a time', '2026-01-01 00:00:00.000']);
    fs.rmSync(path.join(dir, POISON_FILE));
  });

  it('fails store calls and pings while the store-down file exists', async () => {
    const real = { insert: async () => 'inserted', ping: async () => ({ success: true }) } as unknown as ClickHouseClient;
    const client = createFaults(['store-down-while-file'], dir, { production: false }).store(real);
    expect(await client.insert({ table: 'events', values: [] })).toBe('inserted');
    fs.writeFileSync(path.join(dir, STORE_DOWN_FILE), '');
    await expect(client.insert({ table: 'events', values: [] })).rejects.toThrow(/ECONNREFUSED/);
    expect((await client.ping()).success).toBe(false);
    fs.rmSync(path.join(dir, STORE_DOWN_FILE));
    expect((await client.ping()).success).toBe(true);
  });
});
