/**
 * IP truncation (docs/design.md §3.2). Only canonical addresses are accepted
 * (src/wire/ip.ts parses them; refused ones are stored as the unknown marker
 * and counted).
 *
 * An IPv6 address that carries an IPv4 address (IPv4-mapped, -compatible,
 * 6to4, NAT64 well-known prefix, Teredo) is truncated as that IPv4: a /48 of
 * 2002:c000:0204:: would otherwise keep the whole embedded 192.0.2.4.
 */
import ipaddr from 'ipaddr.js';
import { parseStrictIp, type ParsedIp } from '../wire/ip.js';

export const UNKNOWN_IP = '';
export const MAX_IPV4_PREFIX = 24;
export const MAX_IPV6_PREFIX = 48;

/**
 * The IPv4 address an IPv6 address carries, as 4 bytes, or null. Apart from
 * the mapped form, a carried address in 0.0.0.0/8 ("this network", never a
 * client) does not count: that keeps `::`, `::1` and the short networks this
 * module itself outputs (`2002::/15`, `2001::/16`, `64:ff9b::/32`) IPv6, so
 * truncating a stored value again gives the same value.
 */
export function embeddedIpv4(b: number[]): number[] | null {
  const zero = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (b[i] !== 0) return false;
    return true;
  };
  const carried = (v4: number[]) => (v4[0] === 0 ? null : v4);
  // IPv4-mapped ::ffff:a.b.c.d
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16);
  // IPv4-compatible ::a.b.c.d (deprecated, still parsed)
  if (zero(0, 12)) return carried(b.slice(12, 16));
  // 6to4 2002:AABB:CCDD::/48 — the IPv4 is bits 16–47
  if (b[0] === 0x20 && b[1] === 0x02) return carried(b.slice(2, 6));
  // NAT64 well-known prefix 64:ff9b::/96
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return carried(b.slice(12, 16));
  // Teredo 2001:0000::/32 — bits 32–63 are the Teredo server's IPv4, the last 32 bits the client's, inverted
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x00 && b[3] === 0x00 && b[4] !== 0) return carried(b.slice(12, 16).map((x) => x ^ 0xff));
  return null;
}

function mask(bytes: number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return keep === 8 ? byte : byte & ((0xff << (8 - keep)) & 0xff);
  });
}

export interface IpPrefixes {
  ipv4Prefix: number;
  ipv6Prefix: number;
}

export function checkPrefixes(p: IpPrefixes): void {
  if (!Number.isInteger(p.ipv4Prefix) || p.ipv4Prefix < 0 || p.ipv4Prefix > MAX_IPV4_PREFIX) throw new RangeError(`IPv4 prefix must be 0–${MAX_IPV4_PREFIX}`);
  if (!Number.isInteger(p.ipv6Prefix) || p.ipv6Prefix < 0 || p.ipv6Prefix > MAX_IPV6_PREFIX) throw new RangeError(`IPv6 prefix must be 0–${MAX_IPV6_PREFIX}`);
}

function v4Cidr(bytes: number[], prefix: number): string {
  return `${mask(bytes, prefix).join('.')}/${prefix}`;
}

/** The network of an already parsed address, as CIDR text. */
export function truncateParsed(addr: ParsedIp, p: IpPrefixes): string {
  if (addr.kind() === 'ipv4') return v4Cidr(addr.toByteArray(), p.ipv4Prefix);
  const bytes = addr.toByteArray();
  const v4 = embeddedIpv4(bytes);
  if (v4) return v4Cidr(v4, p.ipv4Prefix);
  return `${ipaddr.fromByteArray(mask(bytes, p.ipv6Prefix)).toString()}/${p.ipv6Prefix}`;
}

/** Truncates a client address to its network (`192.0.2.0/24`, `2001:db8:85a3::/48`), or UNKNOWN_IP if refused. */
export function truncateIp(s: string, p: IpPrefixes): string {
  checkPrefixes(p);
  const addr = parseStrictIp(s);
  return addr ? truncateParsed(addr, p) : UNKNOWN_IP;
}
