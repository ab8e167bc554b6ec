/**
 * Product tiles and layout arms (docs/design.md §4.2, issue 13).
 *
 * A tile is an element the shop marks `data-track-item="<product slug>"`,
 * optionally `data-track-list="<list name>"` and `data-track-pos="<n>"`;
 * without one, its position is its 1-based index among the page's tiles of
 * the same list, in document order. A tile is *seen* when at least half of
 * it has been in the viewport for a second while the page is visible
 * (IntersectionObserver; where the browser has none, nothing is sent): one
 * impression per tile per page view. A click inside a tile says which tile.
 *
 * Arms: `data-variant="experiment:arm[,experiment:arm]"` on the script tag
 * and anonAnalytics.variant(experiment, arm). The shop assigns them; the
 * tracker only repeats them on every event and stores nothing.
 *
 * Only the attributes named here are read: never text, never a value.
 */
import { FORBIDDEN_KEYS, MAX_ITEM_ID, MAX_ITEM_LIST, MAX_ITEM_POS, MAX_VARIANTS, VARIANT_NAME_PATTERN } from '../../wire/limits.js';
import type { ItemData, Variants } from '../../wire/types.js';

const ITEM = '[data-track-item]';
const SEEN_MS = 1000;

const listOf = (el: Element) => el.getAttribute('data-track-list') || '';

/** The tile `target` is (or is inside), as sent; undefined outside any tile. */
export function itemOf(target: EventTarget | null): ItemData | undefined {
  const el = target instanceof Element && target.closest(ITEM);
  if (!el) return;
  const list = listOf(el);
  let pos = +el.getAttribute('data-track-pos')!;
  if (!pos) {
    pos = 1;
    for (const o of document.querySelectorAll(ITEM)) {
      if (o == el) break;
      if (listOf(o) == list) pos++;
    }
  }
  const item: ItemData = { id: el.getAttribute('data-track-item')!.slice(0, MAX_ITEM_ID) };
  if (list) item.list = list.slice(0, MAX_ITEM_LIST);
  if (pos >= 1 && pos <= MAX_ITEM_POS) item.pos = pos | 0;
  return item;
}

/**
 * Watches the page's tiles and calls `seen` once per tile per page view. The
 * returned function starts a new page view (`reset`) or looks again after the
 * page came back into view.
 */
export function watchTiles(seen: (item: ItemData) => void): (reset?: boolean) => void {
  if (!self.IntersectionObserver) return () => {};
  let done = new WeakSet<Element>();
  const timers = new Map<Element, any>();
  const io = new IntersectionObserver(
    (entries) => {
      for (const { target: el, intersectionRatio } of entries) {
        clearTimeout(timers.get(el));
        timers.set(
          el,
          // Half in view for a second, while someone is looking (a hidden tab's tiles count once it is shown again: look() re-observes).
          intersectionRatio >= 0.5 &&
            setTimeout(() => {
              if (document.visibilityState == 'visible' && !done.has(el)) seen(itemOf(done.add(el) && el)!);
            }, SEEN_MS),
        );
      }
    },
    { threshold: 0.5 },
  );
  // Tiles rendered later (a grid filled by script, an SPA route) are looked for again when the DOM changes
  // (observing a tile twice is a no-op; one already seen is not counted again).
  const observeAll = () => document.querySelectorAll(ITEM).forEach((el) => io.observe(el));
  new MutationObserver(observeAll).observe(document, { childList: true, subtree: true });
  return (reset) => {
    if (reset) done = new WeakSet();
    // Observing anew reports every tile's current visibility, so a tile in view starts its second again; a second
    // begun before (on the page view that ended, for a tile perhaps gone since) does not count.
    timers.forEach(clearTimeout);
    io.disconnect();
    observeAll();
  };
}

/**
 * `v` with one more arm, when both names are ones the collector takes and at most MAX_VARIANTS experiments result;
 * a new object, so events already queued keep the arms they had. Undefined while there is none.
 */
export function withVariant(v: Variants | undefined, experiment: unknown, arm: unknown): Variants | undefined {
  // As text (a number is its digits, an object never a name).
  const ok = (s: unknown): s is string => VARIANT_NAME_PATTERN.test(s as string) && !FORBIDDEN_KEYS.has(s as string);
  return ok(experiment) && ok(arm) && Object.keys({ ...v, [experiment]: 0 }).length <= MAX_VARIANTS ? { ...v, [experiment]: '' + arm } : v;
}

/** `data-variant="grid-layout:b, hero:big"`: the pairs that are valid. */
export function parseVariants(attr = ''): Variants | undefined {
  return attr.split(',').reduce<Variants | undefined>((v, pair) => withVariant(v, ...(pair.trim().split(':') as [string, string])), undefined);
}
