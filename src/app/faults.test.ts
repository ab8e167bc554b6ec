import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import type { EventRow } from '../anonymise/types.js';
import type { ClickHouseClient } from '../store/client.js';
import { InsertError } from '../store/inserter.js';
import { clickHouseErrorCode, storeWideFailure } from '../../workers/anonymise-job.js';
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

describe('clickHouseErrorCode', () => {
  it('reads the code of a server error or of an embedded error message', () => {
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: '41' }))).toBe(41);
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: 243 }))).toBe(243);
    expect(clickHouseErrorCode(new Error('Code: 27. DB::Exception: Cannot parse input'))).toBe(27);
    expect(clickHouseErrorCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });
});

describe('storeWideFailure', () => {
  // The embedded store answers its ping (an in-process SELECT 1) in all of these: the code must decide.
  it.each([
    [243, 'NOT_ENOUGH_SPACE'],
    [241, 'MEMORY_LIMIT_EXCEEDED'],
    [252, 'TOO_MANY_PARTS'],
    [164, 'READONLY'],
    [159, 'TIMEOUT_EXCEEDED'],
    [209, 'SOCKET_TIMEOUT'],
    [210, 'NETWORK_ERROR'],
    [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
    [236, 'ABORTED'],
  ])('code %i is the store being unavailable (%s), not the job', (code, name) => {
    // As the HTTP client reports it (string code), as chdb does (same), as a message, and wrapped by the inserter.
    expect(storeWideFailure(Object.assign(new Error('x'), { code: String(code) }))).toBe(name);
    expect(storeWideFailure(Object.assign(new Error('x'), { code }))).toBe(name);
    expect(storeWideFailure(new Error(`Code: ${code}. DB::Exception: something`))).toBe(name);
    expect(storeWideFailure(new InsertError('insert of 3 rows failed', { cause: Object.assign(new Error('x'), { code: String(code) }) }))).toBe(name);
  });

  it('leaves data errors and unknown failures to the job (and network errors to the ping)', () => {
    expect(storeWideFailure(new InsertError('insert failed', { cause: new Error('Code: 27. DB::Exception: Cannot parse input') }))).toBeUndefined();
    expect(storeWideFailure(Object.assign(new Error('x'), { code: '53' }))).toBeUndefined();
    expect(storeWideFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(storeWideFailure(new Error('socket hang up'))).toBeUndefined();
    expect(storeWideFailure(undefined)).toBeUndefined();
  });
});
