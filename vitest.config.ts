import { defineConfig } from 'vitest/config';
import { npmScriptEnv } from './test/support/process.js';

// As `npm start` sets it (package.json): every chDB call holds a libuv thread while it waits for its connection, so
// the default 4 are too few for the writer, the analyst sessions and the readiness ping at once. The test
// processes inherit it from here; it must be set before a process starts.
process.env.UV_THREADPOOL_SIZE ??= npmScriptEnv('src/app/all-in-one-main.ts').UV_THREADPOOL_SIZE;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    // Each test file runs in its own process: the embedded ClickHouse allows
    // one data directory per process, and every file uses its own.
    pool: 'forks',
    isolate: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
