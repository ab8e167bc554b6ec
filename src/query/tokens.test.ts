import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/tmp.js';
import { addCredential, CredentialError, credentialsFile, Credentials, readCredentials, revokeCredential } from './tokens.js';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir('tokens');
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const bearer = (t: string) => `Bearer ${t}`;

describe('named credentials', () => {
  it('stores only a hash, shows the token once, and identifies its holder by name and role', () => {
    const d = dir();
    const token = addCredential(d, 'alice', 'analyst');
    expect(token).toMatch(/^anon_[A-Za-z0-9_-]{43}$/);
    const raw = fs.readFileSync(credentialsFile(d), 'utf8');
    expect(raw).not.toContain(token);
    expect(fs.statSync(credentialsFile(d)).mode & 0o777).toBe(0o600);
    expect(readCredentials(d)).toEqual([{ name: 'alice', role: 'analyst', created_at: expect.any(String), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const creds = new Credentials(d, { analyst: undefined, admin: undefined, generated: false });
    expect(creds.identify(bearer(token))).toEqual({ name: 'alice', role: 'analyst' });
    expect(creds.identify(bearer(token + 'x'))).toBeUndefined();
    expect(creds.identify(token)).toBeUndefined();
  });

  it('sees a credential added or revoked by another process at the next request', () => {
    const d = dir();
    const creds = new Credentials(d, { analyst: undefined, admin: undefined, generated: false });
    expect(creds.identify(bearer('anon_nothing'))).toBeUndefined();
    const bob = addCredential(d, 'bob', 'admin');
    expect(creds.identify(bearer(bob))).toEqual({ name: 'bob', role: 'admin' });
    expect(revokeCredential(d, 'bob')).toBe(true);
    expect(creds.identify(bearer(bob))).toBeUndefined();
    expect(revokeCredential(d, 'bob')).toBe(false);
  });

  it('keeps the bootstrap pair working under its own names', () => {
    const creds = new Credentials(dir(), { analyst: 'a'.repeat(20), admin: 'b'.repeat(20), generated: false });
    expect(creds.identify(bearer('a'.repeat(20)))).toEqual({ name: 'bootstrap:analyst', role: 'analyst' });
    expect(creds.identify(bearer('b'.repeat(20)))).toEqual({ name: 'bootstrap:admin', role: 'admin' });
  });

  it('refuses bad names, unknown roles and a second credential of one name', () => {
    const d = dir();
    for (const name of ['', 'Alice', 'bootstrap:admin', 'a b', 'x'.repeat(65)]) expect(() => addCredential(d, name, 'analyst')).toThrow(CredentialError);
    expect(() => addCredential(d, 'carol', 'root' as never)).toThrow(CredentialError);
    addCredential(d, 'carol', 'analyst');
    expect(() => addCredential(d, 'carol', 'admin')).toThrow(/exists already/);
  });
});
