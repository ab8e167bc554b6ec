/**
 * Product tiles and layout experiments (docs/design.md §3.12): the item a
 * shop marked (data-track-item, data-track-list, the tile's position) and the
 * arms of its layout experiments (data-variant, anonAnalytics.variant()).
 *
 * All of these are the shop's own constants: a product slug, a list name, an
 * experiment and an arm. They get the rule of path segments (routes.ts,
 * pii.ts slugOrPlaceholder), case kept: lowercase slugs only, at most 64
 * characters and 8 words, untouched by the personal-data detector. Anything
 * else is dropped, never kept as a placeholder (an item called ":id" would
 * group nothing): free text, an order number, and any capital letter, since
 * names are written with one ("Zelda_Quixote" would pass as a slug once
 * lowercased; a shop writes its SKUs in lowercase here).
 * Pure and linear: every value is capped before the detector sees it.
 */
import { MAX_ITEM_ID, MAX_ITEM_LIST, MAX_ITEM_POS, MAX_VARIANTS } from '../wire/limits.js';
import type { ItemData, Variants } from '../wire/types.js';
import { PLACEHOLDERS, slugOrPlaceholder } from './pii.js';

/** Experiment and arm names are short (VARIANT_NAME_PATTERN allows 32 characters on the wire). */
const MAX_VARIANT_NAME = 32;

/** `raw` when it is a lowercase slug of at most `cap` characters, else ''. */
export function slugOnly(raw: string, cap: number): string {
  if (raw.length > cap) return '';
  const s = slugOrPlaceholder(raw, { cap });
  return s === '' || PLACEHOLDERS.has(s) ? '' : s;
}

export interface CleanItem {
  id: string;
  list: string;
  /** 0 when the tracker sent none. */
  pos: number;
}

/** The item as stored, or null when its id is not a slug (the impression is dropped, a click keeps no item). A list that is not a slug is dropped alone. */
export function sanitiseItem(item: ItemData): CleanItem | null {
  const id = slugOnly(item.id, MAX_ITEM_ID);
  if (!id) return null;
  const pos = typeof item.pos === 'number' && Number.isInteger(item.pos) && item.pos >= 1 && item.pos <= MAX_ITEM_POS ? item.pos : 0;
  return { id, list: item.list ? slugOnly(item.list, MAX_ITEM_LIST) : '', pos };
}

/** The experiments and arms as stored (both slugs), and how many pairs were dropped. */
export function sanitiseVariants(variants: Variants): { variants: Record<string, string>; dropped: number } {
  const out: Record<string, string> = {};
  let dropped = 0;
  let n = 0;
  for (const k of Object.keys(variants)) {
    if (n >= MAX_VARIANTS) {
      dropped++;
      continue;
    }
    const experiment = slugOnly(k, MAX_VARIANT_NAME);
    const arm = slugOnly(String(variants[k]), MAX_VARIANT_NAME);
    if (!experiment || !arm || Object.hasOwn(out, experiment)) {
      dropped++;
      continue;
    }
    out[experiment] = arm;
    n++;
  }
  return { variants: out, dropped };
}
