/**
 * Calls between the all-in-one's main thread and its collector thread, over
 * the worker's message port: `call(kind, arg)` answers with what the other
 * side's handler for `kind` returned (or rejects with its error's name and
 * message, never its stack or fields: an error may not carry visitor data
 * across, and none is needed). `notify` is one-way.
 */
import type { MessagePort, Worker } from 'node:worker_threads';

type Port = Pick<MessagePort | Worker, 'postMessage' | 'on' | 'off'>;

export type Handlers = Record<string, (arg: unknown) => unknown>;

type Message =
  | { t: 'call'; id: number; kind: string; arg: unknown }
  | { t: 'reply'; id: number; ok: true; value: unknown }
  | { t: 'reply'; id: number; ok: false; error: { name: string; message: string } }
  | { t: 'note'; kind: string; value: unknown };

export class ThreadCallError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export class ThreadRpc {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly onMessage = (m: Message) => this.receive(m);

  constructor(
    private readonly port: Port,
    private readonly handlers: Handlers,
    private readonly onNote: (kind: string, value: unknown) => void = () => {},
  ) {
    port.on('message', this.onMessage);
  }

  /** `timeoutMs`: reject when the other side has not answered by then (a thread whose loop is stuck). */
  call<T>(kind: string, arg?: unknown, timeoutMs?: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new ThreadCallError('ThreadTimeoutError', `${kind}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      const settle = <A>(f: (a: A) => void) => (a: A) => {
        clearTimeout(timer);
        f(a);
      };
      this.pending.set(id, { resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) });
      this.port.postMessage({ t: 'call', id, kind, arg } satisfies Message);
    });
  }

  notify(kind: string, value?: unknown): void {
    this.port.postMessage({ t: 'note', kind, value } satisfies Message);
  }

  /** Every call still waiting fails with `err` (the other side is gone). */
  failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  stop(): void {
    this.port.off('message', this.onMessage);
  }

  private receive(m: Message): void {
    if (m.t === 'note') return this.onNote(m.kind, m.value);
    if (m.t === 'reply') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new ThreadCallError(m.error.name, m.error.message));
      return;
    }
    const handler = this.handlers[m.kind];
    const answer = (r: Message) => this.port.postMessage(r);
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no handler for ${m.kind}`);
        return handler(m.arg);
      })
      .then(
        (value) => answer({ t: 'reply', id: m.id, ok: true, value }),
        (err: unknown) => answer({ t: 'reply', id: m.id, ok: false, error: { name: (err as Error).name ?? 'Error', message: (err as Error).message ?? String(err) } }),
      );
  }
}
