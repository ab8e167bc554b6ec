/**
 * The all-in-one honours MIGRATE_ON_START like the worker does: with it off
 * the process applies no migration at start (the schema is `npm run
 * migrate`'s job, e.g. for an insert-only ClickHouse user).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestPipeline, type TestPipeline } from './support/pipeline.js';

let p: TestPipeline | undefined;
afterAll(async () => {
  await p?.close();
});

describe('npm start with MIGRATE_ON_START=false', () => {
  it('starts without applying migrations', async () => {
    p = await startTestPipeline({ MIGRATE_ON_START: 'false' });
    expect(p.app.config.store.migrateOnStart).toBe(false);
    const tables = await p.rows<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase()');
    expect(tables.map((t) => t.name)).not.toContain('schema_migrations');
    expect(tables.map((t) => t.name)).not.toContain('events');
    expect(p.logs.join('')).toMatch(/MIGRATE_ON_START=false: not applying migrations/);
  });
});
