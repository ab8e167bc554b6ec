/**
 * The bounds of analyst queries are defined once (src/query/settings.ts with
 * the QUERY_MAX_* defaults of src/config/config.ts); the server-mode analyst
 * profile (deploy/clickhouse/users.d/anon.xml) repeats them in XML, and this
 * test keeps the copy equal.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { querySettings, withQuerySettings } from './settings.js';

const profile = (): Record<string, string> => {
  const xml = fs.readFileSync(new URL('../../deploy/clickhouse/users.d/anon.xml', import.meta.url), 'utf8');
  const body = /<analyst_profile>([\s\S]*?)<\/analyst_profile>/.exec(xml)![1]!;
  return Object.fromEntries([...body.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map((m) => [m[1]!, m[2]!]));
};

describe('analyst query settings', () => {
  const config = loadConfig({});

  it('default to a 10 s time limit, 1 GiB of memory, 1 M rows and 100 MiB of result, 2 queries at once', () => {
    expect(config.query).toMatchObject({ maxExecutionSeconds: 10, maxMemoryBytes: 1024 ** 3, maxResultRows: 1_000_000, maxResultBytes: 100 * 1024 ** 2, concurrency: 2, port: 8081, host: '127.0.0.1' });
  });

  it('are the server-mode analyst profile, setting for setting', () => {
    const p = profile();
    for (const [name, value] of querySettings(config.query)) expect(p[name], name).toBe(String(value).replace(/'/g, ''));
    expect(p.max_concurrent_queries_for_user).toBe(String(config.query.concurrency));
  });

  it('end with readonly = 1, after every other setting, on a line of its own', () => {
    const sql = withQuerySettings('SELECT 1', config.query, '0f0e0d0c-0b0a-4908-8706-050403020100');
    expect(sql).toMatch(/^SELECT 1\nSETTINGS max_execution_time = 10, .*log_comment = '0f0e0d0c-0b0a-4908-8706-050403020100', readonly = 1$/);
    expect(querySettings(config.query).at(-1)).toEqual(['readonly', 1]);
  });

  it('never put anything but an id in log_comment', () => {
    const sql = withQuerySettings('SELECT 1', config.query, "x', readonly = 0, y = '");
    expect(sql).toMatch(/log_comment = '[0-9a-f-]*', readonly = 1$/);
    expect(sql.match(/readonly/g)).toHaveLength(1);
  });
});
