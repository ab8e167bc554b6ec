/**
 * Builds the tracker (src/tracker/script/tracker.ts) into one minified IIFE, once per process, with its
 * compressed forms: served as they are (src/tracker/serve.ts), never compressed per request.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'script', 'tracker.ts');

export interface TrackerBundle {
  code: string;
  /** Content hash of the code: the base of each representation's strong ETag. */
  etag: string;
  gzip: Buffer;
  brotli: Buffer;
  gzipBytes: number;
}

let cached: Promise<TrackerBundle> | undefined;

export function buildTracker(): Promise<TrackerBundle> {
  cached ??= (async () => {
    // tsconfigRaw: the bundle does not depend on any tsconfig (one that sets `strict` makes esbuild prepend
    // "use strict" to the IIFE, bytes the page does not need; the sources are plain modules either way).
    const out = await build({ entryPoints: [ENTRY], bundle: true, minify: true, format: 'iife', write: false, target: 'es2018', legalComments: 'none', tsconfigRaw: '{}' });
    const code = out.outputFiles[0]!.text;
    const gzip = gzipSync(code, { level: 9 });
    const brotli = brotliCompressSync(code, { params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: code.length } });
    return { code, etag: createHash('sha256').update(code).digest('base64url').slice(0, 22), gzip, brotli, gzipBytes: gzip.length };
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}
