/**
 * Who may query, and as whom.
 *
 * Named credentials (`npm run tokens -- add NAME --role analyst|admin`,
 * `list`, `revoke NAME`) live in DATA_DIR/credentials.json (mode 0600): name,
 * role, creation time and the SHA-256 of the token, never the token, which
 * is shown once when it is made. A token is 32 random bytes, so a plain hash
 * is enough (no password stretching: nothing to guess). The serving process
 * re-reads the file when it changes, so a revoked token stops working at its
 * next request, without a restart.
 *
 * The bootstrap pair: ANALYST_TOKEN / ADMIN_TOKEN (or, in development, the
 * pair generated once into DATA_DIR/tokens.json) keep working, as the
 * credentials `bootstrap:analyst` and `bootstrap:admin`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Role } from './guard.js';

export interface Tokens {
  analyst: string | undefined;
  admin: string | undefined;
  generated: boolean;
}

export interface Principal {
  /** The credential's name, as recorded in the audit table. */
  name: string;
  role: Role;
}

export interface StoredCredential {
  name: string;
  role: Role;
  created_at: string;
  sha256: string;
}

/** Names: lowercase, digits, `.`, `_`, `-`; the bootstrap names (with a colon) cannot be taken. */
export const CREDENTIAL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ROLES: readonly Role[] = ['analyst', 'admin'];

export function tokensFile(dataDir: string): string {
  return path.join(dataDir, 'tokens.json');
}

export function credentialsFile(dataDir: string): string {
  return path.join(dataDir, 'credentials.json');
}

/** The bootstrap pair: from the environment, else the development pair in DATA_DIR/tokens.json (generated when allowed). */
export function resolveTokens(auth: { analystToken?: string; adminToken?: string }, dataDir: string, allowGenerate: boolean): Tokens {
  if (auth.analystToken || auth.adminToken) return { analyst: auth.analystToken, admin: auth.adminToken, generated: false };
  const file = tokensFile(dataDir);
  try {
    const t = JSON.parse(fs.readFileSync(file, 'utf8')) as { analyst: string; admin: string };
    return { analyst: t.analyst, admin: t.admin, generated: false };
  } catch {
    if (!allowGenerate) return { analyst: undefined, admin: undefined, generated: false };
  }
  const t = { analyst: randomBytes(24).toString('base64url'), admin: randomBytes(24).toString('base64url') };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(t) + '\n', { mode: 0o600 });
  return { ...t, generated: true };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function readCredentials(dataDir: string): StoredCredential[] {
  let raw: string;
  try {
    raw = fs.readFileSync(credentialsFile(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = JSON.parse(raw) as { credentials?: StoredCredential[] };
  return (parsed.credentials ?? []).filter((c) => CREDENTIAL_NAME.test(c.name) && ROLES.includes(c.role) && /^[0-9a-f]{64}$/.test(c.sha256));
}

function writeCredentials(dataDir: string, list: StoredCredential[]): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = credentialsFile(dataDir);
  // Written whole and renamed into place: a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ version: 1, credentials: list }, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
}

/** Makes a credential; returns its token, which is not stored anywhere and cannot be shown again. */
export function addCredential(dataDir: string, name: string, role: Role, now = new Date()): string {
  if (!CREDENTIAL_NAME.test(name)) throw new CredentialError('a name is 1–64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
  if (!ROLES.includes(role)) throw new CredentialError('--role must be analyst or admin');
  const list = readCredentials(dataDir);
  if (list.some((c) => c.name === name)) throw new CredentialError(`a credential named ${name} exists already (revoke it first)`);
  const token = `anon_${randomBytes(32).toString('base64url')}`;
  writeCredentials(dataDir, [...list, { name, role, created_at: now.toISOString(), sha256: sha256(token) }]);
  return token;
}

/** Removes a credential; false when there was none by that name. */
export function revokeCredential(dataDir: string, name: string): boolean {
  const list = readCredentials(dataDir);
  const rest = list.filter((c) => c.name !== name);
  if (rest.length === list.length) return false;
  writeCredentials(dataDir, rest);
  return true;
}

/**
 * The credentials a serving process accepts: the bootstrap pair and the
 * named ones, the latter re-read whenever the file changes.
 */
export class Credentials {
  private byHash = new Map<string, Principal>();
  private seen = '';

  constructor(
    private readonly dataDir: string,
    private readonly bootstrap: Tokens,
  ) {}

  /** The principal a `Authorization: Bearer …` header names, or undefined. */
  identify(header: string | undefined): Principal | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return undefined;
    const given = m[1]!;
    if (this.bootstrap.admin && same(given, this.bootstrap.admin)) return { name: 'bootstrap:admin', role: 'admin' };
    if (this.bootstrap.analyst && same(given, this.bootstrap.analyst)) return { name: 'bootstrap:analyst', role: 'analyst' };
    this.reload();
    // A lookup by the hash of a 256-bit random token: its timing tells nothing about any stored token.
    return this.byHash.get(sha256(given));
  }

  private reload(): void {
    let stamp: string;
    try {
      const st = fs.statSync(credentialsFile(this.dataDir));
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = 'none';
    }
    if (stamp === this.seen) return;
    const list = stamp === 'none' ? [] : readCredentials(this.dataDir);
    this.byHash = new Map(list.map((c) => [c.sha256, { name: c.name, role: c.role }]));
    this.seen = stamp;
  }
}
