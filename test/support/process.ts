/** Runs an entry point as a real child process (tsx), waits for its health URL, keeps its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Proc {
  child: ChildProcess;
  output: string[];
  baseUrl: string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * The variables the npm script that runs `entry` sets before the process starts (`"start": "MALLOC_ARENA_MAX=2
 * UV_THREADPOOL_SIZE=16 tsx src/app/all-in-one-main.ts"`): settings that must be in place before the first
 * allocation or thread, so the process cannot set them itself. Tests and benchmarks then run an entry as its
 * npm script does. None when no script runs `entry`.
 */
export function npmScriptEnv(entry: string): Record<string, string> {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const command of Object.values(scripts)) {
    const words = command.trim().split(/\s+/);
    const n = words.findIndex((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w));
    if (words[n] !== 'tsx' || words[n + 1] !== entry) continue;
    return Object.fromEntries(words.slice(0, n).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  }
  return {};
}

export async function startProcess(entry: string, env: Record<string, string>, healthUrl: string, timeoutMs = 60_000): Promise<Proc> {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...npmScriptEnv(entry), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}:\n${output.join('')}`);
    try {
      const res = await fetch(healthUrl);
      if (res.ok) break;
    } catch {}
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`${entry} did not become healthy within ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output,
    baseUrl: new URL(healthUrl).origin,
    exited,
    async stop(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
