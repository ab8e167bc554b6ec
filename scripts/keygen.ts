/**
 * `npm run keygen`: a sealing key pair for production (SEAL_PUBLIC_KEY for
 * collectors, SEAL_PRIVATE_KEY for workers).
 * `npm run keygen -- --collector ID`: a signing identity for one collector
 * (COLLECTOR_ID and COLLECTOR_SIGNING_KEY for that collector; its entry of
 * TRUSTED_COLLECTORS for the workers).
 */
import { generateSealKeyPair, keyFingerprint } from '../src/queue/seal.js';
import { generateSigningKeyPair } from '../src/queue/signing.js';

const args = process.argv.slice(2);
const at = args.indexOf('--collector');
if (at !== -1) {
  const id = args[at + 1] ?? '';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    console.error('usage: npm run keygen -- --collector ID   (ID: 1–64 of [A-Za-z0-9._-])');
    process.exit(2);
  }
  const k = generateSigningKeyPair();
  console.log(`# for collector ${id}`);
  console.log(`COLLECTOR_ID=${id}`);
  console.log(`COLLECTOR_SIGNING_KEY=${k.privateKey}`);
  console.log(`# for every worker: add this entry to TRUSTED_COLLECTORS (a JSON object)`);
  console.log(`TRUSTED_COLLECTORS=${JSON.stringify({ [id]: k.publicKey })}`);
} else if (args.length > 0) {
  console.error('usage: npm run keygen [-- --collector ID]');
  process.exit(2);
} else {
  const k = generateSealKeyPair();
  console.log(`# fingerprint ${keyFingerprint(k.publicKey)}`);
  console.log(`SEAL_PUBLIC_KEY=${k.publicKey}`);
  console.log(`SEAL_PRIVATE_KEY=${k.privateKey}`);
}
