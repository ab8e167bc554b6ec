/**
 * Raw HTTP/1.1 over node:net to 127.0.0.1, for what fetch cannot do: send a
 * request byte by byte, lie about lengths, keep streaming after the answer,
 * and see exactly when the server closes the connection.
 */
import net from 'node:net';

export interface RawResult {
  /** Status of the first response, 0 when the server closed without one. */
  status: number;
  response: string;
  /** Milliseconds from connect until the server closed (or reset) the connection. */
  closedAfterMs: number;
  /** Bytes of the request the client managed to write before the connection went away. */
  written: number;
}

export interface RawOptions {
  port: number;
  /** Written at once after connecting. */
  head: string | Buffer;
  /** Then, one chunk every `everyMs`, until the server closes or `maxChunks` are sent. */
  drip?: { chunk: () => string | Buffer; everyMs: number; maxChunks: number };
  /** Give up (and fail the caller's expectations) after this long. */
  timeoutMs: number;
}

export function rawRequest(opts: RawOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port: opts.port });
    let response = '';
    let written = 0;
    let timer: NodeJS.Timeout | undefined;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      resolve({ status: m ? Number(m[1]) : 0, response, closedAfterMs: Date.now() - started, written });
    };
    const giveUp = setTimeout(finish, opts.timeoutMs);
    const write = (b: string | Buffer) => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(b, () => {});
      written += Buffer.byteLength(b);
    };
    const drip = () => {
      if (!opts.drip || done || sent >= opts.drip.maxChunks) return;
      write(opts.drip.chunk());
      sent++;
      timer = setTimeout(drip, opts.drip.everyMs);
    };
    socket.on('connect', () => {
      write(opts.head);
      if (opts.drip) timer = setTimeout(drip, opts.drip.everyMs);
    });
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.on('end', () => finish());
  });
}
