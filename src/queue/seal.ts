/**
 * Sealed envelopes: how raw request context crosses Redis without being
 * readable there.
 *
 * Design: workers own an X25519 key pair; collectors hold only its public key.
 * Each collector process makes an ephemeral X25519 key pair, derives a data
 * key from ECDH(ephemeral, worker public) with HKDF-SHA256 and seals every job
 * with AES-256-GCM under it. The ephemeral public key travels in the envelope
 * (the data key is thereby "wrapped" for the workers); its private half lives
 * only in the collector's memory and is replaced every hour. So a Redis dump,
 * a replica or a backup holds ciphertext only, and even a compromised
 * collector cannot open jobs sealed by other collectors or by itself in an
 * earlier hour.
 *
 * Envelope layout (binary, then base64 in the BullMQ job):
 *   version(1) | key id(8) | ephemeral public key(32) | iv(12) | tag(16) | ciphertext
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

const VERSION = 1;
const AAD = Buffer.from('anon-analytics/sealed-job/v1');
const HKDF_INFO = Buffer.from('anon-analytics seal v1');
const HEADER = 1 + 8 + 32 + 12 + 16;
const ROTATE_MS = 60 * 60 * 1000;

export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Raw 32-byte X25519 keys, base64 encoded: what config and key files hold. */
export interface SealKeyPair {
  publicKey: string;
  privateKey: string;
}

export function generateSealKeyPair(): SealKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: rawPublic(publicKey).toString('base64'), privateKey: rawPrivate(privateKey).toString('base64') };
}

/** The public key that belongs to a private key (workers need only the private one). */
export function publicKeyOf(privateKeyB64: string): string {
  return rawPublic(createPublicKey(importPrivate(privateKeyB64))).toString('base64');
}

/** Short, non-secret identifier of a public key: safe to log. */
export function keyFingerprint(publicKeyB64: string): string {
  return keyId(decodeKey(publicKeyB64, 'public')).toString('hex');
}

function keyId(rawPub: Buffer): Buffer {
  return createHash('sha256').update(rawPub).digest().subarray(0, 8);
}

function rawPublic(k: KeyObject): Buffer {
  const jwk = k.export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

function rawPrivate(k: KeyObject): Buffer {
  const jwk = k.export({ format: 'jwk' });
  return Buffer.from(jwk.d as string, 'base64url');
}

function decodeKey(b64: string, what: string): Buffer {
  const raw = Buffer.from(b64.trim(), 'base64');
  if (raw.length !== 32) throw new SealError(`the ${what} sealing key must be 32 bytes, base64 encoded`);
  return raw;
}

function importPublic(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

function importPrivate(b64: string): KeyObject {
  const d = decodeKey(b64, 'private');
  // JWK import needs x as well; derive it by importing through PKCS#8.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), d]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

function deriveDataKey(shared: Buffer, ephemeralPub: Buffer, recipientPub: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralPub, recipientPub]), HKDF_INFO, 32));
}

/** Collector side: seals with a per-process data key wrapped for the workers. */
export class Sealer {
  private readonly recipientPub: Buffer;
  private readonly recipient: KeyObject;
  private readonly kid: Buffer;
  private ephemeralPub!: Buffer;
  private dataKey!: Buffer;
  private rotatedAt = 0;

  constructor(workerPublicKeyB64: string, private readonly now: () => number = Date.now) {
    this.recipientPub = decodeKey(workerPublicKeyB64, 'public');
    this.recipient = importPublic(this.recipientPub);
    this.kid = keyId(this.recipientPub);
    this.rotate();
  }

  private rotate(): void {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    this.ephemeralPub = rawPublic(publicKey);
    const shared = diffieHellman({ privateKey, publicKey: this.recipient });
    this.dataKey = deriveDataKey(shared, this.ephemeralPub, this.recipientPub);
    this.rotatedAt = this.now();
  }

  seal(plaintext: Buffer): Buffer {
    if (this.now() - this.rotatedAt > ROTATE_MS) this.rotate();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.dataKey, iv);
    cipher.setAAD(AAD);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), this.kid, this.ephemeralPub, iv, cipher.getAuthTag(), body]);
  }
}

/** Worker side: opens envelopes sealed for its key pair. */
export class Unsealer {
  private readonly privateKey: KeyObject;
  private readonly pub: Buffer;
  private readonly kid: Buffer;
  /** Derived data keys by ephemeral public key: one ECDH per collector-hour, not per job. */
  private readonly keys = new Map<string, Buffer>();

  constructor(privateKeyB64: string) {
    this.privateKey = importPrivate(privateKeyB64);
    this.pub = rawPublic(createPublicKey(this.privateKey));
    this.kid = keyId(this.pub);
  }

  open(envelope: Buffer): Buffer {
    if (envelope.length < HEADER || envelope[0] !== VERSION) throw new SealError('not a v1 sealed envelope');
    if (!envelope.subarray(1, 9).equals(this.kid)) {
      throw new SealError(`sealed for key ${envelope.subarray(1, 9).toString('hex')}, this worker holds ${this.kid.toString('hex')}`);
    }
    const epk = envelope.subarray(9, 41);
    const iv = envelope.subarray(41, 53);
    const tag = envelope.subarray(53, 69);
    const key = this.dataKeyFor(epk);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(AAD);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(envelope.subarray(HEADER)), decipher.final()]);
    } catch (err) {
      throw new SealError('sealed envelope failed authentication (tampered or truncated)', { cause: err });
    }
  }

  private dataKeyFor(epk: Buffer): Buffer {
    const id = epk.toString('base64');
    let key = this.keys.get(id);
    if (!key) {
      const shared = diffieHellman({ privateKey: this.privateKey, publicKey: importPublic(Buffer.from(epk)) });
      key = deriveDataKey(shared, epk, this.pub);
      if (this.keys.size > 1000) this.keys.clear();
      this.keys.set(id, key);
    }
    return key;
  }
}
