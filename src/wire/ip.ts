/**
 * Strict client-address parsing, shared by the collector (which passes on
 * only a canonical address) and the anonymiser (which truncates it).
 * ipaddr.js on its own also parses inet_aton legacy forms (0xc0.168.1.1,
 * 192.168.1.010, 3232235777) and zone ids, and guessing what such a string
 * means could keep more of an address than intended, so they are refused.
 */
import ipaddr from 'ipaddr.js';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

export type ParsedIp = ipaddr.IPv4 | ipaddr.IPv6;

/** Parses a canonical IPv4 or IPv6 address; anything else (legacy forms, zones, ports, spaces) → null. */
export function parseStrictIp(s: string): ParsedIp | null {
  if (typeof s !== 'string' || s.length === 0 || s.length > 45) return null;
  if (IPV4.test(s)) return ipaddr.IPv4.parse(s);
  if (!IPV6_CHARS.test(s) || !s.includes(':')) return null;
  const dot = s.indexOf('.');
  if (dot !== -1 && !IPV4.test(s.slice(s.lastIndexOf(':') + 1))) return null;
  if (!ipaddr.IPv6.isValid(s)) return null;
  return ipaddr.IPv6.parse(s);
}

export function isCanonicalIp(s: string): boolean {
  return parseStrictIp(s) !== null;
}
