/**
 * Where sealing keys come from. Production: SEAL_PUBLIC_KEY for collectors,
 * SEAL_PRIVATE_KEY for workers, from the operator's secret store. Development
 * and the embedded all-in-one: generated once into DATA_DIR/keys (mode 0600)
 * so `npm start` works without configuration.
 */
import { hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { generateSealKeyPair, keyFingerprint, publicKeyOf } from './seal.js';

export interface KeyLog {
  info(obj: object, msg: string): void;
}

export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function devKeys(seal: Config['seal'], production: boolean, log: KeyLog): { publicKey: string; privateKey?: string } {
  const privFile = path.join(seal.keyDir, 'seal.key');
  const pubFile = path.join(seal.keyDir, 'seal.pub');
  const priv = readIfExists(privFile);
  const pub = readIfExists(pubFile);
  if (pub) return { publicKey: pub, privateKey: priv };
  if (production) {
    throw new MissingKeyError(
      'no sealing keys: set SEAL_PUBLIC_KEY (collectors) and SEAL_PRIVATE_KEY (workers); generate a pair with `npm run keygen`',
    );
  }
  const pair = generateSealKeyPair();
  fs.mkdirSync(seal.keyDir, { recursive: true, mode: 0o700 });
  // wx: never overwrite a key another process wrote in the meantime.
  try {
    fs.writeFileSync(privFile, pair.privateKey + '\n', { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(pubFile, pair.publicKey + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return devKeys(seal, production, log);
    throw err;
  }
  log.info({ keyDir: seal.keyDir, fingerprint: keyFingerprint(pair.publicKey) }, 'generated development sealing keys (mode 0600); set SEAL_PUBLIC_KEY/SEAL_PRIVATE_KEY in production');
  return pair;
}

/** The public key a collector seals for. */
export function collectorSealKey(config: Config, log: KeyLog): string {
  if (config.seal.publicKey) return config.seal.publicKey;
  if (config.seal.privateKey) return publicKeyOf(config.seal.privateKey);
  return devKeys(config.seal, config.production, log).publicKey;
}

/**
 * The private key a worker opens jobs with. In production only from SEAL_PRIVATE_KEY: a key file in DATA_DIR
 * would lie beside the data it protects, and with it an admin of the data could open every sealed job and
 * recompute visitor ids (src/anonymise/salts.ts).
 */
export function workerSealKey(config: Config, log: KeyLog): string {
  if (config.seal.privateKey) return config.seal.privateKey;
  if (config.production) {
    throw new MissingKeyError(
      'SEAL_PRIVATE_KEY must be set in production: the workers\' private key is never read from DATA_DIR, beside the data it protects (`npm run keygen`)',
    );
  }
  const keys = devKeys(config.seal, config.production, log);
  if (!keys.privateKey) {
    throw new MissingKeyError(`no private sealing key: set SEAL_PRIVATE_KEY or put it in ${path.join(config.seal.keyDir, 'seal.key')}`);
  }
  return keys.privateKey;
}

const ID_SECRET_INFO = 'anon-analytics visitor-id secret v1';

/**
 * The worker secret that keys visitor, page-view and event ids together with
 * the day's salt (src/anonymise/salts.ts `dayIdKey`): HKDF-SHA256 of the
 * workers' private sealing key. Only workers hold it, so a Redis dump (salts
 * included), every table and every token do not let anyone recompute an id.
 * Derived, not a setting of its own: the private key is already the one
 * secret a worker must have and an admin of the data must not. Rotating the
 * key pair therefore also changes the ids of the day it happens on (a
 * visitor seen before and after the switch counts twice that day).
 */
export function workerIdSecret(privateKeyB64: string): Buffer {
  const raw = Buffer.from(privateKeyB64.trim(), 'base64');
  if (raw.length !== 32) throw new MissingKeyError('the private sealing key must be 32 bytes, base64 encoded');
  return Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), ID_SECRET_INFO, 32));
}
