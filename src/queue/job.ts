/**
 * What a queue job carries: one sealed envelope holding one or more collected
 * requests (group commit). Nothing outside the envelope is derived from the
 * request, so Redis sees only ciphertext and counts.
 */
import type { CollectedRequest } from '../anonymise/types.js';
import type { Sealer, Unsealer } from './seal.js';

export const JOB_NAME = 'collected';

export interface SealedJobData {
  /** base64 sealed envelope of a JobPayload. */
  s: string;
  /** Event count, for metrics and batching decisions; not sensitive. */
  n: number;
}

export interface JobPayload {
  v: 1;
  reqs: CollectedRequest[];
}

export function sealJob(sealer: Sealer, reqs: CollectedRequest[]): SealedJobData {
  let n = 0;
  for (const r of reqs) n += r.events.length;
  const payload: JobPayload = { v: 1, reqs };
  return { s: sealer.seal(Buffer.from(JSON.stringify(payload))).toString('base64'), n };
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
