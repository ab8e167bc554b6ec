/** Where the sealing keys come from: development files, production settings only for the private key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { MissingKeyError, workerIdSecret, workerSealKey } from './keys.js';
import { generateSealKeyPair } from './seal.js';

const quiet = { info: () => {} };

describe('workerSealKey', () => {
  it('generates a development pair into DATA_DIR/keys, and reads it back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anon-keys-'));
    try {
      const key = workerSealKey(loadConfig({ DATA_DIR: dir }), quiet);
      expect(fs.readFileSync(path.join(dir, 'keys', 'seal.key'), 'utf8').trim()).toBe(key);
      expect(workerSealKey(loadConfig({ DATA_DIR: dir }), quiet)).toBe(key);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in production reads the private key from SEAL_PRIVATE_KEY only, never from a file beside the data', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anon-keys-'));
    try {
      workerSealKey(loadConfig({ DATA_DIR: dir }), quiet); // a key file exists in DATA_DIR/keys
      expect(() => workerSealKey(loadConfig({ DATA_DIR: dir, NODE_ENV: 'production' }), quiet)).toThrow(MissingKeyError);
      const pair = generateSealKeyPair();
      expect(workerSealKey(loadConfig({ DATA_DIR: dir, NODE_ENV: 'production', SEAL_PRIVATE_KEY: pair.privateKey }), quiet)).toBe(pair.privateKey);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('workerIdSecret', () => {
  it('is 32 bytes derived from the private key: stable for one key, different for another, not the key itself', () => {
    const a = generateSealKeyPair();
    const b = generateSealKeyPair();
    const s = workerIdSecret(a.privateKey);
    expect(s).toHaveLength(32);
    expect(workerIdSecret(a.privateKey).equals(s)).toBe(true);
    expect(workerIdSecret(b.privateKey).equals(s)).toBe(false);
    expect(s.equals(Buffer.from(a.privateKey, 'base64'))).toBe(false);
    expect(() => workerIdSecret('c2hvcnQ=')).toThrow(MissingKeyError);
  });
});
