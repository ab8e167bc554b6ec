import { describe, expect, it } from 'vitest';
import { generateSealKeyPair, keyFingerprint, publicKeyOf, Sealer, SealError, Unsealer } from './seal.js';

describe('sealed envelopes', () => {
  const keys = generateSealKeyPair();
  const secret = Buffer.from(JSON.stringify({ ip: '203.0.113.77', ua: 'Canary/1.0' }));

  it('round-trips through the worker key and hides the plaintext', () => {
    const env = new Sealer(keys.publicKey).seal(secret);
    expect(env.includes(Buffer.from('203.0.113.77'))).toBe(false);
    expect(env.toString('base64')).not.toContain(secret.toString('base64').slice(0, 12));
    expect(new Unsealer(keys.privateKey).open(env).equals(secret)).toBe(true);
  });

  it('derives the public key from the private key', () => {
    expect(publicKeyOf(keys.privateKey)).toBe(keys.publicKey);
    expect(keyFingerprint(keys.publicKey)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rotates the ephemeral data key and still opens old and new envelopes', () => {
    let t = 0;
    const sealer = new Sealer(keys.publicKey, () => t);
    const a = sealer.seal(secret);
    t = 2 * 60 * 60 * 1000;
    const b = sealer.seal(secret);
    expect(a.subarray(9, 41).equals(b.subarray(9, 41))).toBe(false);
    const un = new Unsealer(keys.privateKey);
    expect(un.open(a).equals(secret)).toBe(true);
    expect(un.open(b).equals(secret)).toBe(true);
  });

  it('refuses tampered envelopes and envelopes for another key', () => {
    const env = new Sealer(keys.publicKey).seal(secret);
    const tampered = Buffer.from(env);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => new Unsealer(keys.privateKey).open(tampered)).toThrow(SealError);
    expect(() => new Unsealer(generateSealKeyPair().privateKey).open(env)).toThrow(/sealed for key/);
    expect(() => new Unsealer(keys.privateKey).open(Buffer.from('short'))).toThrow(/not a v1/);
  });

  it('rejects malformed keys with a clear message', () => {
    expect(() => new Sealer('abc')).toThrow(/32 bytes/);
  });
});
