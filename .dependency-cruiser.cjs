/**
 * The boundaries of the tree, checked in `npm test` (test/boundaries.test.ts)
 * and by `npm run check:boundaries`. Each rule says why it exists; the folder
 * table in README.md names what each folder is for.
 */
/** The product: what runs in a collector, worker or all-in-one, and its CLIs. */
const PRODUCT = '^(src|workers|scripts)/';
/**
 * Tests and the benchmark may reach into any layer and use test support, so
 * the layer rules do not apply to them; test/ and bench/ are not followed
 * (their own imports are not part of the product's graph).
 */
const TESTS = ['\\.test\\.ts$', '^test/', '^bench/'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles between files: a cycle hides which module depends on which.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'No two folders import each other: the tree shows the data flow in one direction.',
      scope: 'folder',
      from: { path: PRODUCT, pathNot: TESTS },
      to: { circular: true },
    },
    {
      name: 'bullmq-only-in-queue',
      severity: 'error',
      comment: 'Only src/queue/ knows the queue library; everything else sees its own small interfaces.',
      from: { path: PRODUCT, pathNot: ['^src/queue/', ...TESTS] },
      to: { path: 'node_modules/(bullmq|ioredis)/' },
    },
    {
      name: 'clickhouse-only-in-store',
      severity: 'error',
      comment: 'Only src/store/ imports @clickhouse/client and chdb (the one place that builds a client).',
      from: { path: PRODUCT, pathNot: ['^src/store/', ...TESTS] },
      to: { path: 'node_modules/(@clickhouse/[^/]+|chdb)/' },
    },
    {
      name: 'no-entry-point-imports',
      severity: 'error',
      comment: 'Entry points (workers/, src/app/*-main.ts, scripts/, bench/) start processes; no product code imports them.',
      from: { path: PRODUCT, pathNot: TESTS },
      to: { path: ['^workers/', '^scripts/', '^bench/', '^src/app/[^/]+-main\\.ts$'] },
    },
    {
      name: 'app-is-the-top',
      severity: 'error',
      comment: 'src/app/ composes the parts; no part depends on the composition.',
      from: { path: '^src/', pathNot: ['^src/app/', ...TESTS] },
      to: { path: '^src/app/' },
    },
    {
      name: 'product-does-not-import-tests',
      severity: 'error',
      comment: 'Test support never reaches the production path.',
      from: { path: PRODUCT, pathNot: TESTS },
      to: { path: TESTS },
    },
    {
      name: 'anonymiser-is-pure',
      severity: 'error',
      comment: 'The anonymiser is pure functions over plain data: no queue, store, HTTP or process wiring.',
      from: { path: '^src/anonymise/', pathNot: TESTS },
      to: { path: '^src/(app|collect|config|http|ingest|observe|query|queue|store|tracker)/' },
    },
    {
      name: 'tracker-script-is-self-contained',
      severity: 'error',
      comment: 'The browser script (bundled into /t.js) uses only its own files and the wire format, no server code or packages.',
      from: { path: '^src/tracker/script/', pathNot: TESTS },
      to: { pathNot: ['^src/tracker/script/', '^src/wire/(limits|types)\\.ts$'] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: ['node_modules', '^test/', '^bench/'] },
  },
};
