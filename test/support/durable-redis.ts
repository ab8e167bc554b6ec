/**
 * A private redis-server that keeps its data across a crash, as production
 * Redis must: AOF with `appendfsync always` (every acknowledged write is on
 * disk before the reply), in its own directory. `crash()` is SIGKILL (an
 * outage with no chance to save); `start()` again on the same port and
 * directory replays the AOF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { tempDir } from './tmp.js';

export class DurableRedis {
  private proc: ChildProcess | undefined;
  readonly dir = tempDir('redis');
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      if (await answersPing(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async crash(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async remove(): Promise<void> {
    // An AOF rewrite runs in a child that Redis forked; it would outlive a SIGKILL of its parent and keep writing
    // into the directory (seen as ENOTEMPTY when removing it): its children are killed first.
    const pid = this.proc?.pid;
    if (pid !== undefined && this.proc?.exitCode === null) {
      for (const child of childrenOf(pid)) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {}
      }
    }
    await this.crash();
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 40, retryDelay: 50 });
  }
}

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, in parentheses): state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

/** True once the server answers PING with PONG (it refuses commands with LOADING while replaying the AOF). */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += String(d);
      if (buf.includes('\r\n')) {
        s.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    s.once('error', () => resolve(false));
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
  });
}
