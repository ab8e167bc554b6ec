import { describe, expect, it } from 'vitest';
import { classifyDigits, decodeValue, luhn, scrubValue } from './pii.js';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('scrubValue: personal data becomes a placeholder', () => {
  it.each([
    // emails, also percent-encoded once or twice
    ['jane.doe@example.com', ':email'],
    ['Jane.Doe+shop@Example.CO.UK', ':email'],
    ['jane.doe%40example.com', ':email'],
    ['jane.doe%2540example.com', ':email'],
    ['jane.doe%252540example.com', ':email'],
    ['contact-jane@example.org-thanks', ':email'],
    // card numbers passing Luhn, in any grouping
    ['4111111111111111', ':card'],
    ['4111 1111 1111 1111', ':card'],
    ['4111-1111-1111-1111', ':card'],
    ['4111.1111.1111.1111', ':card'],
    ['card-4111-1111-1111-1111-ok', ':card'],
    ['5500005555555559', ':card'],
    ['378282246310005', ':card'],
    // phone numbers: separators or a leading +
    ['+49 30 1234567', ':phone'],
    ['+49 (30) 123-4567', ':phone'],
    ['+4930123456', ':phone'],
    ['555.123.4567', ':phone'],
    ['(555) 123-4567', ':phone'],
    ['call-030-1234-567', ':phone'],
    // long digit runs (not Luhn-valid 16 digits, IBAN-like, order numbers)
    ['4111111111111112', ':num'],
    ['0301234567', ':num'],
    ['order-123456', ':num'],
    ['DE89370400440532013000', ':num'],
    ['DE89 3704 0044 0532 0130 00', ':num'],
    // UUIDs, hex and base64 tokens, JWTs
    ['c018252c-7fe2-4370-9c34-cfc757dfde15', ':id'],
    ['ORDER-C018252C-7FE2-4370-9C34-CFC757DFDE15', ':id'],
    ['dc9bb49d64afda5fb18b7084f91d51de', ':token'],
    ['fq68qX5mczibX7ctpeKr-Q', ':token'],
    ['ZM7ZVCGtmHyKjkeq2UYq2HRi6G_XfiC3', ':token'],
    ['oYYJKEjLLEEB9cp6dA8DR9uJasNGYKfFZZtFIq-O3ao', ':token'],
    ['k3j9x2abcdq8z7m1n0p4', ':token'],
    ['reset-aB3dE5gH7jK9mN1pQ3sT', ':token'],
    [JWT, ':token'],
  ])('%j → %s', (raw, want) => {
    expect(scrubValue(raw)).toBe(want);
  });

  it.each([
    'usb-c-65w',
    'usb-c-65w-charger-for-laptops-2024',
    '4k-60hz-hdmi-2-1-cable',
    'galaxy-s24-ultra-256gb-black',
    'power-bank-20000',
    'ProductCategoryOverview',
    'Some-Title-2024-Edition-XYZ',
    '2023-11-25',
    '25.11.2023',
    'checkout',
    'v2',
    '1.2.3',
    'p12345',
    'café',
    'summer-sale',
  ])('%j is kept', (raw) => {
    expect(scrubValue(raw)).toBe(raw);
  });

  it('caps values before looking at them', () => {
    expect(scrubValue('x'.repeat(1000))).toHaveLength(256);
    expect(scrubValue('x'.repeat(1000), 128)).toHaveLength(128);
  });

  it('decodes malformed escapes piecewise, so a stray % cannot hide an @', () => {
    expect(decodeValue('100%-jane%40example.com')).toBe('100%-jane@example.com');
    expect(scrubValue('100%-jane%40example.com')).toBe(':email');
  });

  it('luhn and digit groups', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(classifyDigits('no digits here')).toBeNull();
    expect(classifyDigits('size 42')).toBeNull();
  });
});
