/**
 * IP truncation (docs/design.md §3.2): public vectors (Matomo, Google Analytics),
 * every embedded-IPv4 form, every refused form, and properties over random
 * addresses.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { checkPrefixes, embeddedIpv4, truncateIp, UNKNOWN_IP } from './ip.js';
import { isCanonicalIp, parseStrictIp } from '../wire/ip.js';

const DEFAULT = { ipv4Prefix: 24, ipv6Prefix: 48 };
const v4 = (ipv4Prefix: number) => ({ ipv4Prefix, ipv6Prefix: 48 });
const v6 = (ipv6Prefix: number) => ({ ipv4Prefix: 24, ipv6Prefix });

describe('Matomo IPAnonymizer vectors', () => {
  // matomo-org/matomo plugins/PrivacyManager/tests/Unit/AnonymizeIPTest.php, getipv4Addresses():
  // the address with 1, 2, 3 and 4 octets masked (mask 0, i.e. /32, is wider than we ever keep).
  const ipv4: [string, [string, string, string, string]][] = [
    ['0.0.0.0', ['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.0.0.1', ['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.0.0.255', ['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.0.1.0', ['0.0.1.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.0.1.1', ['0.0.1.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.0.255.255', ['0.0.255.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.1.0.0', ['0.1.0.0', '0.1.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.1.1.1', ['0.1.1.0', '0.1.0.0', '0.0.0.0', '0.0.0.0']],
    ['0.255.255.255', ['0.255.255.0', '0.255.0.0', '0.0.0.0', '0.0.0.0']],
    ['1.0.0.0', ['1.0.0.0', '1.0.0.0', '1.0.0.0', '0.0.0.0']],
    ['127.255.255.255', ['127.255.255.0', '127.255.0.0', '127.0.0.0', '0.0.0.0']],
    ['128.0.0.0', ['128.0.0.0', '128.0.0.0', '128.0.0.0', '0.0.0.0']],
    ['255.255.255.255', ['255.255.255.0', '255.255.0.0', '255.0.0.0', '0.0.0.0']],
  ];
  const prefixes = [24, 16, 8, 0];

  it.each(ipv4)('%s, 1 to 4 octets masked', (ip, expected) => {
    prefixes.forEach((prefix, i) => expect(truncateIp(ip, v4(prefix))).toBe(`${expected[i]}/${prefix}`));
  });

  it.each(ipv4)('::ffff:%s (IPv4-mapped) masks like the IPv4 address', (ip, expected) => {
    prefixes.forEach((prefix, i) => expect(truncateIp(`::ffff:${ip}`, v4(prefix))).toBe(`${expected[i]}/${prefix}`));
  });

  // getipv6Addresses(): 80 bits masked (/48) and 104 bits masked (/24); 64 bits masked (/64) is wider than allowed.
  it.each([
    ['2001:db8:0:8d3:0:8a2e:70:7344', '2001:db8::/48', '2001:d00::/24'],
    ['2001:6f8:900:724::2', '2001:6f8:900::/48', '2001:600::/24'],
  ])('%s, 80 and 104 bits masked', (ip, p48, p24) => {
    expect(truncateIp(ip, v6(48))).toBe(p48);
    expect(truncateIp(ip, v6(24))).toBe(p24);
    expect(() => truncateIp(ip, v6(64))).toThrow(RangeError);
  });
});

describe('Google Analytics anonymize_ip vectors', () => {
  // GA's IP anonymisation (support.google.com/analytics/answer/2763052): the last octet of an IPv4
  // address and the last 80 bits of an IPv6 address are set to zero, which is exactly our default.
  it.each([
    ['12.214.31.144', '12.214.31.0/24'],
    ['141.0.144.226', '141.0.144.0/24'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:db8:85a3::/48'],
    ['2001:db8:85a3:1234:5678:8a2e:370:7334', '2001:db8:85a3::/48'],
    ['2a00:1450:4001:82b::200e', '2a00:1450:4001::/48'],
  ])('%s → %s', (ip, want) => {
    expect(truncateIp(ip, DEFAULT)).toBe(want);
  });
});

describe('IPv6 addresses that embed an IPv4 address are truncated as that IPv4', () => {
  // Every row carries 203.0.113.77 (hex cb00:714d) somewhere; only 203.0.113.0/24 may come out.
  it.each([
    ['IPv4-mapped, dotted', '::ffff:203.0.113.77'],
    ['IPv4-mapped, hex', '::ffff:cb00:714d'],
    ['IPv4-mapped, expanded', '0:0:0:0:0:ffff:cb00:714d'],
    ['IPv4-mapped, upper case', '::FFFF:CB00:714D'],
    ['IPv4-compatible, dotted', '::203.0.113.77'],
    ['IPv4-compatible, hex', '::cb00:714d'],
    ['6to4', '2002:cb00:714d::1'],
    ['6to4 with a subnet and interface id', '2002:cb00:714d:abcd:1:2:3:4'],
    ['NAT64 well-known prefix, dotted', '64:ff9b::203.0.113.77'],
    ['NAT64 well-known prefix, hex', '64:ff9b::cb00:714d'],
  ])('%s: %s', (_form, ip) => {
    const out = truncateIp(ip, DEFAULT);
    expect(out).toBe('203.0.113.0/24');
    for (const leak of ['77', '714d', 'cb00']) expect(out).not.toContain(leak);
  });

  it('Teredo: the client address (obfuscated in the last 32 bits) is truncated; the server address is not kept', () => {
    // RFC 4380 / RFC 5991 example: server 65.54.227.120, client 192.0.2.45 port 40000.
    const out = truncateIp('2001:0:4136:e378:8000:63bf:3fff:fdd2', DEFAULT);
    expect(out).toBe('192.0.2.0/24');
    expect(embeddedIpv4(ipaddr.parse('2001:0:4136:e378:8000:63bf:3fff:fdd2').toByteArray())).toEqual([192, 0, 2, 45]);
    expect(out).not.toMatch(/4136|e378|65\.54/);
  });

  it('honours a shorter IPv4 prefix for embedded addresses too', () => {
    expect(truncateIp('2002:cb00:714d::1', { ipv4Prefix: 16, ipv6Prefix: 48 })).toBe('203.0.0.0/16');
    expect(truncateIp('::ffff:203.0.113.77', { ipv4Prefix: 0, ipv6Prefix: 48 })).toBe('0.0.0.0/0');
  });

  it('leaves ordinary IPv6 addresses as IPv6', () => {
    expect(truncateIp('2001:db8:c0de:cafe::1', DEFAULT)).toBe('2001:db8:c0de::/48');
    // The NAT64 local-use prefix 64:ff9b:1::/48 keeps nothing past /48, so nothing embedded survives.
    expect(truncateIp('64:ff9b:1::cb00:714d', DEFAULT)).toBe('64:ff9b:1::/48');
    // :: and ::1 carry no client IPv4 (0.0.0.0/8); the networks this module outputs stay what they are.
    expect(truncateIp('::', DEFAULT)).toBe('::/48');
    expect(truncateIp('::1', DEFAULT)).toBe('::/48');
    expect(truncateIp('2002::', v6(15))).toBe('2002::/15');
    expect(truncateIp('2001::', v6(16))).toBe('2001::/16');
    expect(truncateIp('64:ff9b::', v6(32))).toBe('64:ff9b::/32');
  });
});

describe('what is not a canonical address is refused, stored as unknown', () => {
  it.each([
    // inet_aton legacy forms: hex or octal parts, leading zeros, fewer than four parts, the integer form
    '0xc0.168.1.1',
    '0xC0.0xA8.0x01.0x01',
    '0300.0250.0001.0001',
    '192.168.1.010',
    '192.168.01.1',
    '010.1.1.1',
    '00.1.1.1',
    '192.168.1',
    '192.168',
    '192',
    '3232235777',
    '0xc0a80101',
    '030052000401',
    // out of range, too many parts
    '256.1.1.1',
    '1.2.3.4.5',
    // zone ids, ports, brackets, prefixes
    'fe80::1%eth0',
    'fe80::1%25eth0',
    'fe80::1%1',
    '192.168.1.1:8080',
    '[2001:db8::1]',
    '[2001:db8::1]:443',
    '2001:db8::1/64',
    '192.168.1.1/24',
    // whitespace anywhere
    ' 192.168.1.1',
    '192.168.1.1 ',
    '192.168.1.1\n',
    '192.168.1.1\t',
    '2001:db8::1 ',
    '192.168. 1.1',
    // legacy forms inside IPv6
    '::ffff:0xc0.168.1.1',
    '::ffff:192.168.1.010',
    '::ffff:192.168.1',
    '64:ff9b::3232235777',
    // malformed IPv6
    '1::2::3',
    '2001:db8:0:0:0:0:0:0:1',
    '00000::1',
    '12345::1',
    ':::',
    '1.2.3.4::',
    // other digits and text
    '١٩٢.١٦٨.١.١',
    '１９２.１６８.１.１',
    'localhost',
    'unknown',
    '',
  ])('%j', (ip) => {
    expect(isCanonicalIp(ip)).toBe(false);
    expect(parseStrictIp(ip)).toBeNull();
    expect(truncateIp(ip, DEFAULT)).toBe(UNKNOWN_IP);
  });

  it('refuses a non-string without throwing', () => {
    expect(parseStrictIp(undefined as unknown as string)).toBeNull();
    expect(parseStrictIp(42 as unknown as string)).toBeNull();
  });

  it('accepts every canonical text form of an address (RFC 4291)', () => {
    for (const ip of ['192.0.2.1', '0.0.0.0', '2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:DB8::1', '::', '::1', '::ffff:192.0.2.1']) {
      expect(isCanonicalIp(ip), ip).toBe(true);
    }
  });
});

describe('prefix lengths are configurable only to shorter prefixes', () => {
  it.each([
    [25, 48],
    [32, 48],
    [24, 49],
    [24, 64],
    [24, 128],
    [-1, 48],
    [24, -1],
    [23.5, 48],
    [Number.NaN, 48],
  ])('refuses /%s and /%s', (ipv4Prefix, ipv6Prefix) => {
    expect(() => checkPrefixes({ ipv4Prefix, ipv6Prefix })).toThrow(RangeError);
    expect(() => truncateIp('192.0.2.1', { ipv4Prefix, ipv6Prefix })).toThrow(RangeError);
  });

  it('accepts every prefix from 0 to the maximum', () => {
    for (let p = 0; p <= 24; p++) expect(truncateIp('255.255.255.255', v4(p))).toBe(`${ipaddr.IPv4.networkAddressFromCIDR(`255.255.255.255/${p}`).toString()}/${p}`);
    for (let p = 0; p <= 48; p++) expect(truncateIp('ffff:ffff:ffff:ffff::1', v6(p))).toBe(`${ipaddr.IPv6.networkAddressFromCIDR(`ffff:ffff:ffff:ffff::1/${p}`).toString()}/${p}`);
  });
});

describe('properties over random addresses', () => {
  const prefixes = fc.record({ ipv4Prefix: fc.integer({ min: 0, max: 24 }), ipv6Prefix: fc.integer({ min: 0, max: 48 }) });

  /** The stored network as bytes, and the prefix length. */
  const stored = (cidr: string) => {
    const [addr, bits] = ipaddr.parseCIDR(cidr);
    return { bytes: addr.toByteArray(), bits, kind: addr.kind() };
  };
  const hostBitsZero = (bytes: number[], bits: number) =>
    bytes.every((b, i) => {
      const keep = Math.max(0, Math.min(8, bits - i * 8));
      return (b & (0xff >> keep)) === 0;
    });
  const samePrefix = (a: number[], b: number[], bits: number) =>
    a.every((x, i) => {
      const keep = Math.max(0, Math.min(8, bits - i * 8));
      const m = (0xff << (8 - keep)) & 0xff;
      return (x & m) === (b[i]! & m);
    });

  it('IPv4: the stored value is the input network with every host bit zero, and never the input', () => {
    fc.assert(
      fc.property(fc.ipV4(), prefixes, (ip, p) => {
        const out = truncateIp(ip, p);
        const s = stored(out);
        expect(s.kind).toBe('ipv4');
        expect(s.bits).toBe(p.ipv4Prefix);
        expect(hostBitsZero(s.bytes, s.bits)).toBe(true);
        expect(samePrefix(s.bytes, ipaddr.IPv4.parse(ip).toByteArray(), s.bits)).toBe(true);
        if (!hostBitsZero(ipaddr.IPv4.parse(ip).toByteArray(), s.bits)) expect(out).not.toContain(ip);
      }),
      { numRuns: 2000 },
    );
  });

  it('IPv6 (any text form fast-check makes): host bits zero, embedded IPv4 reduced, nothing of the host part kept', () => {
    fc.assert(
      fc.property(fc.ipV6(), prefixes, (ip, p) => {
        const out = truncateIp(ip, p);
        expect(out).not.toBe(UNKNOWN_IP);
        const s = stored(out);
        const input = ipaddr.IPv6.parse(ip).toByteArray();
        const carried = embeddedIpv4(input);
        if (carried) {
          expect(s.kind).toBe('ipv4');
          expect(s.bits).toBe(p.ipv4Prefix);
          expect(samePrefix(s.bytes, carried, s.bits)).toBe(true);
        } else {
          expect(s.kind).toBe('ipv6');
          expect(s.bits).toBe(p.ipv6Prefix);
          expect(samePrefix(s.bytes, input, s.bits)).toBe(true);
        }
        expect(hostBitsZero(s.bytes, s.bits)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('truncation is idempotent: truncating the stored network gives the stored network', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), prefixes, (ip, p) => {
        const once = truncateIp(ip, p);
        const network = once.slice(0, once.lastIndexOf('/'));
        expect(truncateIp(network, p)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('every random string is either a canonical address or refused; never thrown on', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const out = truncateIp(s, DEFAULT);
        if (out !== UNKNOWN_IP) expect(ipaddr.isValid(s)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
