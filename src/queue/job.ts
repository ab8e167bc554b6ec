/**
 * What a queue job carries: one sealed envelope holding one or more collected
 * requests (group commit). Nothing outside the envelope is derived from the
 * request, so Redis sees only ciphertext, counts and a random nonce.
 */
import { randomBytes } from 'node:crypto';
import type { CollectedRequest } from '../wire/types.js';
import type { Sealer, Unsealer } from './seal.js';
import type { JobSigner } from './signing.js';

export const JOB_NAME = 'collected';

export interface SealedJobData {
  /** base64 sealed envelope of a JobPayload. */
  s: string;
  /** Event count, for metrics and batching decisions; not sensitive. */
  n: number;
  /**
   * 16 random bytes (base64url) drawn when the collector creates the job, stored with it and so the same on
   * every redelivery. The worker keys the insert deduplication token on it (insertKey), not on the BullMQ
   * job id: ids restart after a Redis rollback (no persistence, everysec AOF) and repeat across
   * QUEUE_PREFIX/QUEUE_NAME pairs writing one table, and ClickHouse silently drops an insert whose token it
   * has seen, whatever its rows. Absent only in jobs written before it existed.
   */
  nonce?: string;
}

export interface JobPayload {
  v: 1;
  reqs: CollectedRequest[];
}

/**
 * An opened job: its payload as parsed (the worker checks every field again,
 * src/wire/collected.ts), the payload's bytes and, when the collector has a
 * signing identity, its signature over them (src/queue/signing.ts).
 *
 * Sealed plaintext: the payload's JSON, then, when signed, a newline and
 * {"by": collector id, "sig": base64 Ed25519 signature of the JSON bytes}.
 * JSON.stringify never writes a raw newline, so the first one splits them.
 */
export interface OpenedJob {
  payload: { v: 1; reqs: unknown };
  body: Buffer;
  signature: { by: string; sig: string } | undefined;
}

export function newJobNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function sealJob(sealer: Sealer, reqs: CollectedRequest[], nonce: string = newJobNonce(), signer?: JobSigner): SealedJobData {
  let n = 0;
  for (const r of reqs) n += r.events.length;
  const payload: JobPayload = { v: 1, reqs };
  let plain = Buffer.from(JSON.stringify(payload));
  if (signer) plain = Buffer.concat([plain, Buffer.from(`\n${JSON.stringify({ by: signer.id, sig: signer.sign(plain) })}`)]);
  return { s: sealer.seal(plain).toString('base64'), n, nonce };
}

/**
 * What names a job's rows in the insert deduplication token: its nonce. A job written before nonces
 * existed falls back to its id (the old behaviour; such jobs drain away after an upgrade).
 */
export function insertKey(data: SealedJobData, jobId: string): string {
  return typeof data.nonce === 'string' && data.nonce.length > 0 ? `n:${data.nonce}` : `id:${jobId}`;
}

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

export function openJob(unsealer: Unsealer, data: SealedJobData): OpenedJob {
  if (!data || typeof data.s !== 'string') throw new PayloadError('job data has no sealed envelope');
  const plain = unsealer.open(Buffer.from(data.s, 'base64'));
  const nl = plain.indexOf(10);
  const body = nl === -1 ? plain : plain.subarray(0, nl);
  let payload: { v?: unknown; reqs?: unknown };
  let signature: OpenedJob['signature'];
  try {
    payload = JSON.parse(body.toString('utf8')) as typeof payload;
    if (nl !== -1) {
      const s = JSON.parse(plain.subarray(nl + 1).toString('utf8')) as { by?: unknown; sig?: unknown };
      if (typeof s?.by !== 'string' || typeof s.sig !== 'string') throw new PayloadError('malformed signature');
      signature = { by: s.by, sig: s.sig };
    }
  } catch (err) {
    throw new PayloadError(`payload is not JSON: ${(err as Error).name}`, { cause: err });
  }
  if (typeof payload !== 'object' || payload === null || payload.v !== 1) throw new PayloadError('unknown job payload version');
  return { payload: { v: 1, reqs: payload.reqs }, body, signature };
}
