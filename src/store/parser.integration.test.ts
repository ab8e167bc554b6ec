/**
 * The embedded parser passes the analyst's text to formatQuerySingleLine as
 * an escaped string literal (not a bound parameter, which chDB would queue
 * behind every other parameterised statement of the process). The escaping
 * must give back exactly the text, whatever it holds, or the text could
 * step out of the literal.
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import { openStore, type Store } from './client.js';
import { migrate } from './migrate.js';
import { clickHouseParser, stringLiteral } from './parser.js';
import { openQueryReader, type QueryReader } from './reader.js';

const dir = tempDir('parser');
let store: Store;
let reader: QueryReader;

beforeAll(async () => {
  store = await openStore({ dataDir: dir, url: undefined } as never);
  await migrate(store.client, { RETENTION_DAYS: 180, AGGREGATE_RETENTION_MONTHS: 25, K_ANONYMITY: 5 });
  await store.client.command({ query: 'CREATE TABLE canary_p (a UInt8) ENGINE = Memory' });
  reader = await openQueryReader(store, 1);
}, 60_000);
afterAll(async () => {
  await reader?.close();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const echo = async (text: string) => {
  const rs = await store.client.query({ query: `SELECT ${stringLiteral(text)} AS s`, format: 'JSONEachRow' });
  return ((await rs.json<{ s: string }>())[0] as { s: string }).s;
};

describe('the string literal of the embedded parser', () => {
  it.each(["'", '\\', "\\'", "''", "'); DROP TABLE canary_p; --", "\\'); DROP TABLE canary_p; SELECT ('", 'a\nb\tc\rd', '😀 ü ß', '$$ `x` "y"'])('gives back %j exactly', async (text) => {
    expect(await echo(text)).toBe(text);
  });

  it('gives back any text exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom("'", '\\', '"', '`', ';', '\n', 'a', '(', ')', '-', '/', '*', 'x') }), async (text) => {
        expect(await echo(text)).toBe(text);
      }),
      { numRuns: 200 },
    );
    expect((await store.client.query({ query: "SELECT count() n FROM system.tables WHERE name = 'canary_p'", format: 'JSONEachRow' }).then((r) => r.json<{ n: number }>()))[0]!.n).toBe(1);
  });

  it('refuses a NUL byte rather than letting the engine cut the text', () => {
    expect(() => stringLiteral('SELECT 1\0; DROP TABLE canary_p')).toThrow(/NUL/);
  });

  it('normalises as the bound-parameter parser does, and refuses a second statement', async () => {
    const bound = clickHouseParser(store.client);
    for (const sql of ["SELECT 'a\\'b' AS x -- c", 'WITH d AS (SELECT 1) SELECT * FROM d', "SELECT `we\\`ird` FROM v_daily(site = 's')"]) {
      expect(await reader.parser.normalise(sql)).toBe(await bound.normalise(sql));
    }
    await expect(reader.parser.normalise('SELECT 1; DROP TABLE canary_p')).rejects.toThrow();
    // The HTTP client appends its FORMAT clause, which the dump shows as a last Identifier of the root; the session does not.
    const withoutFormat = (await bound.explainAst('SELECT 1')).filter((l) => !/^ Identifier JSONEachRow$/.test(l)).map((l) => l.replace('(children 2)', '(children 1)'));
    expect(await reader.parser.explainAst('SELECT 1')).toEqual(withoutFormat);
  });
});
