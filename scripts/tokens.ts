/**
 * `npm run tokens -- add NAME --role analyst|admin | list | revoke NAME`
 * Named credentials for POST /query, stored hashed in DATA_DIR/credentials.json
 * (src/query/tokens.ts). `add` prints the token once: it is not stored and
 * cannot be shown again. A running process picks up changes at its next
 * request. The bootstrap pair (ANALYST_TOKEN / ADMIN_TOKEN) is not listed here.
 */
import { loadConfig } from '../src/config/config.js';
import { addCredential, CredentialError, readCredentials, revokeCredential } from '../src/query/tokens.js';
import type { Role } from '../src/query/guard.js';

const USAGE = 'usage: npm run tokens -- add NAME --role analyst|admin | list | revoke NAME';

try {
  const config = loadConfig();
  const dir = config.store.dataDir;
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'add') {
    const name = rest.find((a, i) => !a.startsWith('--') && rest[i - 1] !== '--role');
    const roleAt = rest.indexOf('--role');
    const role = (roleAt >= 0 ? rest[roleAt + 1] : undefined) as Role | undefined;
    if (!name || !role) throw new CredentialError(USAGE);
    const token = addCredential(dir, name, role);
    process.stdout.write(`${name} (${role}): ${token}\nShown once: it is stored only as a hash. Use it as "Authorization: Bearer <token>" or npm run query -- --token <token> "…".\n`);
  } else if (command === 'list') {
    const list = readCredentials(dir);
    if (!list.length) process.stdout.write('no named credentials (the bootstrap pair ANALYST_TOKEN / ADMIN_TOKEN is not listed)\n');
    for (const c of list) process.stdout.write(`${c.name}\t${c.role}\t${c.created_at}\n`);
  } else if (command === 'revoke') {
    const name = rest[0];
    if (!name) throw new CredentialError(USAGE);
    if (!revokeCredential(dir, name)) throw new CredentialError(`no credential named ${name}`);
    process.stdout.write(`${name} revoked\n`);
  } else {
    throw new CredentialError(USAGE);
  }
} catch (err) {
  console.error(`tokens: ${(err as Error).message}`);
  process.exit(err instanceof CredentialError ? 2 : 1);
}
