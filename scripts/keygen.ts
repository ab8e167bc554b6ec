/** `npm run keygen`: a sealing key pair for production (SEAL_PUBLIC_KEY for collectors, SEAL_PRIVATE_KEY for workers). */
import { generateSealKeyPair, keyFingerprint } from '../src/queue/seal.js';

const k = generateSealKeyPair();
console.log(`# fingerprint ${keyFingerprint(k.publicKey)}`);
console.log(`SEAL_PUBLIC_KEY=${k.publicKey}`);
console.log(`SEAL_PRIVATE_KEY=${k.privateKey}`);
