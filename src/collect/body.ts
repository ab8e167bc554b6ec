/**
 * Reading a /collect body without a global body parser: the content type,
 * charset and encoding are checked before a byte is read, the size is capped
 * while reading (a lying Content-Length cannot get past it), and the bytes
 * must be valid UTF-8.
 */
import type { IncomingMessage } from 'node:http';

import { MAX_BODY_BYTES } from '../wire/limits.js';

export class BodyError extends Error {
  override readonly name = 'BodyError';
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Checks the headers that decide whether the body may be read at all. */
export function checkBodyHeaders(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (!type) throw new BodyError(415, 'Content-Type must be text/plain or application/json');
  const [mediaRaw, ...params] = type.split(';');
  const media = mediaRaw!.trim().toLowerCase();
  if (media !== 'text/plain' && media !== 'application/json') {
    throw new BodyError(415, 'Content-Type must be text/plain or application/json');
  }
  for (const p of params) {
    const [k, v] = p.split('=');
    if (k?.trim().toLowerCase() === 'charset') {
      const cs = (v ?? '').trim().replace(/^"|"$/g, '').toLowerCase();
      if (cs !== 'utf-8' && cs !== 'utf8') throw new BodyError(415, 'charset must be utf-8');
    }
  }
  const enc = req.headers['content-encoding'];
  if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
    // Compressed bodies are refused outright: no decompression bombs to defuse.
    throw new BodyError(415, 'Content-Encoding is not supported; send the body uncompressed');
  }
  const len = req.headers['content-length'];
  if (len !== undefined && Number(len) > MAX_BODY_BYTES) {
    throw new BodyError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
  }
}

/** Reads the body as UTF-8 text, at most MAX_BODY_BYTES. */
export function readBodyText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: BodyError | null, text?: string) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) {
        // Stop reading; the rest of the body is discarded with the connection.
        req.resume();
        reject(err);
      } else resolve(text!);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) return finish(new BodyError(413, `body larger than ${MAX_BODY_BYTES} bytes`));
      chunks.push(c);
    };
    const onEnd = () => {
      try {
        finish(null, utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
      } catch {
        finish(new BodyError(400, 'body is not valid UTF-8'));
      }
    };
    const onError = () => finish(new BodyError(400, 'request body could not be read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

export function parseJson(text: string): unknown {
  if (text.length === 0) throw new BodyError(400, 'body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new BodyError(400, 'body is not valid JSON');
  }
}
