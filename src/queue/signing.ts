/**
 * Optional collector identities. Sealing proves nothing about who made a job:
 * every collector holds the workers' public key, and so does anyone who can
 * read a collector's configuration. A collector given COLLECTOR_ID and
 * COLLECTOR_SIGNING_KEY (an Ed25519 private key) signs each job's sealed
 * payload; a worker given TRUSTED_COLLECTORS (id → public key) accepts only
 * jobs signed by one of them. Workers hold public keys only, so a compromised
 * worker cannot sign jobs either. Off by default (the all-in-one needs none).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** DER prefixes that wrap a raw 32-byte Ed25519 key (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

function raw32(b64: string, what: string): Buffer {
  const raw = Buffer.from(b64.trim(), 'base64');
  if (raw.length !== 32) throw new SigningKeyError(`the ${what} must be a 32-byte Ed25519 key, base64 encoded`);
  return raw;
}

/** A new Ed25519 pair as raw base64: the private key for COLLECTOR_SIGNING_KEY, the public one for TRUSTED_COLLECTORS. */
export function generateSigningKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519.length);
  return { publicKey: pub.toString('base64'), privateKey: priv.toString('base64') };
}

export interface JobSigner {
  readonly id: string;
  /** Base64 signature of `body`. */
  sign(body: Buffer): string;
}

export function createJobSigner(id: string, privateKeyB64: string): JobSigner {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw32(privateKeyB64, 'COLLECTOR_SIGNING_KEY')]), format: 'der', type: 'pkcs8' });
  return { id, sign: (body) => sign(null, body, key).toString('base64') };
}

export type SignatureCheck = 'ok' | 'unsigned' | 'unknown_collector' | 'bad_signature';

export interface JobVerifier {
  /** True when only signed jobs are accepted. */
  readonly required: boolean;
  check(body: Buffer, signature: { by: string; sig: string } | undefined): SignatureCheck;
}

export function createJobVerifier(trusted: Readonly<Record<string, string>>): JobVerifier {
  const keys = new Map<string, KeyObject>();
  for (const [id, pub] of Object.entries(trusted)) {
    keys.set(id, createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw32(pub, `TRUSTED_COLLECTORS key of ${id}`)]), format: 'der', type: 'spki' }));
  }
  return {
    required: keys.size > 0,
    check(body, signature) {
      if (keys.size === 0) return 'ok';
      if (!signature) return 'unsigned';
      const key = keys.get(signature.by);
      if (!key) return 'unknown_collector';
      return verify(null, body, key, Buffer.from(signature.sig, 'base64')) ? 'ok' : 'bad_signature';
    },
  };
}
