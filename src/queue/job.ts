/**
 * What a queue job carries: one sealed envelope holding one or more collected
 * requests (group commit). Nothing outside the envelope is derived from the
 * request, so Redis sees only ciphertext, counts and a random nonce.
 */
import { randomBytes } from 'node:crypto';
import type { CollectedRequest } from '../wire/types.js';
import type { Sealer, Unsealer } from './seal.js';

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

export function newJobNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function sealJob(sealer: Sealer, reqs: CollectedRequest[], nonce: string = newJobNonce()): SealedJobData {
  let n = 0;
  for (const r of reqs) n += r.events.length;
  const payload: JobPayload = { v: 1, reqs };
  return { s: sealer.seal(Buffer.from(JSON.stringify(payload))).toString('base64'), n, nonce };
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

export function openJob(unsealer: Unsealer, data: SealedJobData): JobPayload {
  if (!data || typeof data.s !== 'string') throw new PayloadError('job data has no sealed envelope');
  const plain = unsealer.open(Buffer.from(data.s, 'base64'));
  const payload = JSON.parse(plain.toString('utf8')) as JobPayload;
  if (payload.v !== 1 || !Array.isArray(payload.reqs)) throw new PayloadError('unknown job payload version');
  return payload;
}
