import { describe, expect, it } from 'vitest';
import { openJob, sealJob } from './job.js';
import { generateSealKeyPair, Sealer, Unsealer } from './seal.js';
import { createJobSigner, createJobVerifier, generateSigningKeyPair, SigningKeyError } from './signing.js';

const req = { ctx: { site: 'demo', ip: '198.51.100.7', userAgent: 'UA', receivedAt: 1 }, events: [] };

describe('collector signatures on sealed jobs', () => {
  const seal = generateSealKeyPair();
  const c1 = generateSigningKeyPair();
  const other = generateSigningKeyPair();
  const sealer = new Sealer(seal.publicKey);
  const unsealer = new Unsealer(seal.privateKey);
  const verifier = createJobVerifier({ c1: c1.publicKey });

  it('a job signed by a trusted collector is accepted; the signature covers exactly the payload bytes', () => {
    const opened = openJob(unsealer, sealJob(sealer, [req], 'n', createJobSigner('c1', c1.privateKey)));
    expect(opened.signature?.by).toBe('c1');
    expect(opened.payload.reqs).toEqual([req]);
    expect(verifier.check(opened.body, opened.signature)).toBe('ok');
    // The same signature over other bytes does not verify.
    expect(verifier.check(Buffer.concat([opened.body, Buffer.from(' ')]), opened.signature)).toBe('bad_signature');
  });

  it('unsigned, unknown and forged signers are told apart', () => {
    expect(verifier.check(openJob(unsealer, sealJob(sealer, [req])).body, undefined)).toBe('unsigned');
    const byOther = openJob(unsealer, sealJob(sealer, [req], 'n', createJobSigner('c2', other.privateKey)));
    expect(verifier.check(byOther.body, byOther.signature)).toBe('unknown_collector');
    // Someone who knows the id "c1" but not its key.
    const impostor = openJob(unsealer, sealJob(sealer, [req], 'n', createJobSigner('c1', other.privateKey)));
    expect(verifier.check(impostor.body, impostor.signature)).toBe('bad_signature');
  });

  it('with no trusted collectors configured, every job is accepted (the all-in-one default)', () => {
    const open = createJobVerifier({});
    expect(open.required).toBe(false);
    expect(open.check(Buffer.from('{}'), undefined)).toBe('ok');
    expect(verifier.required).toBe(true);
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => createJobSigner('c1', 'c2hvcnQ=')).toThrow(SigningKeyError);
    expect(() => createJobVerifier({ c1: 'c2hvcnQ=' })).toThrow(SigningKeyError);
  });
});
