/**
 * Query tokens. Set ANALYST_TOKEN/ADMIN_TOKEN in production; in development
 * they are generated once into DATA_DIR/tokens.json (mode 0600) so restarts
 * and `npm run query` reuse them.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Role } from './guard.js';

export interface Tokens {
  analyst: string | undefined;
  admin: string | undefined;
  generated: boolean;
}

export function tokensFile(dataDir: string): string {
  return path.join(dataDir, 'tokens.json');
}

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

function same(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The role a bearer token grants, or undefined. */
export function roleFor(header: string | undefined, tokens: Tokens): Role | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const given = m[1]!;
  if (tokens.admin && same(given, tokens.admin)) return 'admin';
  if (tokens.analyst && same(given, tokens.analyst)) return 'analyst';
  return undefined;
}
