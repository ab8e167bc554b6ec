/** Language (primary ISO 639-1 subtag only) and viewport buckets (docs/design.md §3.4). */
import { describe, expect, it } from 'vitest';
import { primaryLanguage } from './language.js';
import { bucketHeight, bucketWidth } from './viewport.js';

describe('primaryLanguage', () => {
  it.each([
    ['de-CH,de;q=0.9,en;q=0.8', 'de'],
    ['en-US', 'en'],
    ['EN', 'en'],
    ['zh_Hant_TW', 'zh'],
    ['  fr ;q=1', 'fr'],
    ['pt', 'pt'],
    ['gsw-CH', ''], // ISO 639-2/3 only
    ['xx-YY', ''], // not a language
    ['i-klingon', ''],
    ['*', ''],
    ['', ''],
    ['en'.repeat(100), ''],
  ])('%j → %j', (raw, want) => {
    expect(primaryLanguage(raw)).toBe(want);
  });
});

describe('viewport buckets', () => {
  it.each([
    [1440, 1440],
    [1439, 1366],
    [1920, 1920],
    [3840, 2560],
    [390, 390],
    [412, 390],
    [300, 0],
    [0, 0],
    [undefined, 0],
    [Number.NaN, 0],
  ])('width %s → %s', (w, want) => {
    expect(bucketWidth(w)).toBe(want);
  });

  it.each([
    [900, 900],
    [937, 900],
    [99, 0],
    [5000, 2000],
    [undefined, 0],
    [-1, 0],
  ])('height %s → %s', (h, want) => {
    expect(bucketHeight(h)).toBe(want);
  });
});
