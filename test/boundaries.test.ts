/**
 * The tree's boundaries, checked by tools (issue: architecture):
 * - dependency-cruiser with .dependency-cruiser.cjs: no import cycles between
 *   files or folders, bullmq/ioredis only in src/queue/, @clickhouse/client
 *   and chdb only in src/store/, nothing imports an entry point or src/app/,
 *   the anonymiser stays pure, the tracker script stays self-contained;
 * - the TypeScript parser: `process.env` is read only in src/config/.
 * Each check is also run on a small tree that breaks it on purpose, so a
 * rule that silently stopped matching would fail here too.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const CRUISER = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Runs dependency-cruiser in `cwd` with the repository's rules; the violations it reports. */
async function cruise(cwd: string, dirs: string[]): Promise<Violation[]> {
  const args = [CRUISER, ...dirs, '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'];
  // Exit code 1 means "violations found": the JSON on stdout says which.
  const out = await run(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; code?: number }) => {
    if (err.code === 1 && err.stdout) return { stdout: err.stdout };
    throw err;
  });
  return (JSON.parse(out.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** Files (below `dirs` of `root`) that read `process.env` outside src/config/. */
function processEnvReaders(root: string, dirs: string[]): string[] {
  const found: string[] = [];
  const visit = (file: string) => {
    const rel = path.relative(root, file).split(path.sep).join('/');
    if (rel.startsWith('src/config/') || /\.test\.ts$/.test(rel)) return;
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
    const walk = (n: ts.Node): void => {
      if (ts.isPropertyAccessExpression(n) && n.name.text === 'env' && ts.isIdentifier(n.expression) && n.expression.text === 'process') {
        found.push(`${rel}:${source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1}`);
      }
      ts.forEachChild(n, walk);
    };
    walk(source);
  };
  const walkDir = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walkDir(p);
      else if (/\.ts$/.test(e.name)) visit(p);
    }
  };
  for (const d of dirs) if (fs.existsSync(path.join(root, d))) walkDir(path.join(root, d));
  return found;
}

const PRODUCT_DIRS = ['src', 'workers', 'scripts'];

describe('the repository keeps its boundaries', () => {
  it('dependency-cruiser finds no violation in src/, workers/, scripts/', async () => {
    const violations = await cruise(ROOT, PRODUCT_DIRS);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  });

  it('process.env is read only in src/config/', () => {
    expect(processEnvReaders(ROOT, PRODUCT_DIRS)).toEqual([]);
  });
});

describe('the checks catch what they forbid (a small tree that breaks each rule)', () => {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'anon-boundaries-'));
  afterAll(() => fs.rmSync(probe, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(probe, rel)), { recursive: true });
    fs.writeFileSync(path.join(probe, rel), text);
  };
  write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(probe, 'node_modules'), 'dir');
  write('package.json', JSON.stringify({ type: 'module' }));
  // Each line: a file and what it imports, and the rule it must trip.
  write('src/collect/uses-bullmq.ts', "import { Queue } from 'bullmq';\nexport const q = Queue;\n");
  write('src/query/uses-clickhouse.ts', "import { createClient } from '@clickhouse/client';\nexport const c = createClient;\n");
  write('src/store/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
  write('src/store/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
  write('src/queue/up.ts', "import { x } from '../collect/down.js';\nexport const up = x;\n");
  write('src/collect/down.ts', "import { up } from '../queue/up2.js';\nexport const x = 1;\nexport const y = up;\n");
  write('src/queue/up2.ts', 'export const up = 2;\n');
  write('src/app/worker.ts', 'export const w = 1;\n');
  write('src/store/uses-app.ts', "import { w } from '../app/worker.js';\nexport const s = w;\n");
  write('workers/main.ts', 'export const m = 1;\n');
  write('src/query/uses-entry.ts', "import { m } from '../../workers/main.js';\nexport const e = m;\n");
  write('src/anonymise/impure.ts', "import { s } from '../store/uses-app.js';\nexport const i = s;\n");
  write('src/tracker/script/leaks.ts', "import { i } from '../../anonymise/impure.js';\nexport const l = i;\n");
  write('test/support/helper.ts', 'export const h = 1;\n');
  write('src/collect/uses-test.ts', "import { h } from '../../test/support/helper.js';\nexport const t = h;\n");
  write('src/observe/reads-env.ts', 'export const level = process.env.LOG_LEVEL;\n');
  write('src/config/config.ts', 'export const env = process.env;\n');

  it('every dependency rule fires on its forbidden import', async () => {
    const fired = new Set((await cruise(probe, ['src', 'workers'])).map((v) => v.rule.name));
    expect([...fired].sort()).toEqual(
      [
        'anonymiser-is-pure',
        'app-is-the-top',
        'bullmq-only-in-queue',
        'clickhouse-only-in-store',
        'no-circular',
        'no-entry-point-imports',
        'no-folder-cycles',
        'product-does-not-import-tests',
        'tracker-script-is-self-contained',
      ].sort(),
    );
  });

  it('a process.env read outside src/config/ is found', () => {
    expect(processEnvReaders(probe, ['src', 'workers'])).toEqual(['src/observe/reads-env.ts:1']);
  });
});
