/**
 * What a click is allowed to say (docs/design.md §3.6): where it landed on which
 * kind of element, and the label a developer put on it (data-track). Never
 * text, never a value, never an attribute other than id, class and
 * data-track; nothing at all inside [data-no-track] or editable content.
 *
 * Where: as fractions of the element's box and, inside a product tile
 * (data-track-item), of the tile's box; and on the page in CSS pixels with the
 * document's width, so that the worker can measure from the centre line that
 * shop content is laid out around (the same button, the same place, at 1280,
 * 1440 or 1920 px).
 *
 * Which: a selector path that tells the tiles of a grid apart (a sibling
 * position where siblings look alike: same tag, same first class), names a
 * form control by its `name` (`input[name=email]`; the worker keeps it under
 * the label rule), and ends at the innermost element with a class inside the
 * control (link, button…) when the click landed on it (the icon in a link:
 * `a>i.fa.fa-heart` and `a>i.fa.fa-shopping-cart` are two targets).
 *
 * Frustration is judged here, so that nothing more is sent: a rage click is
 * the third click within a second within 30 px of one another (once per
 * burst); a dead click is set by the tracker when the page did not react
 * (src/tracker/script/tracker.ts).
 *
 * A block: the product tile (data-track-item) the click is in, else the
 * nearest element labelled with data-track (named by the click's label):
 * block_x/block_y are the place in it.
 */
import { MAX_LABEL, MAX_PAGE_COORD, MAX_SELECTOR, MAX_SELECTOR_STEPS } from '../../wire/limits.js';
import type { ClickData } from '../../wire/types.js';

/** What looks like a control: a click on anything else that changes nothing is a dead click. */
export const CONTROL = 'a,button,input,select,textarea,label,summary,[role=button]';
/** The element a click "means": the nearest control or labelled ancestor. */
const TARGET = CONTROL + ',[data-track]';
/** ids, classes and names that are plain CSS identifiers; the worker further drops ones that look personal or generated. */
const NAME = /^-?[A-Za-z_][\w-]{0,31}$/;

function step(el: Element): string {
  let s = el.localName;
  const p = el.parentElement;
  const name = el.getAttribute('name') || '';
  if (NAME.test(el.id)) s += '#' + el.id;
  Array.from(el.classList)
    .slice(0, 3)
    .forEach((c) => NAME.test(c) && (s += '.' + c));
  // A form control's name (which field: `email`, never what was typed).
  if ('form' in el && NAME.test(name)) s += `[name=${name}]`;
  // Siblings of one kind (same tag, same first class: the tiles of a grid, the items of a list) by position.
  const same = Array.from(p ? p.children : []).filter((c) => c.localName == el.localName);
  return same.some((c) => c != el && c.classList[0] == el.classList[0]) ? s + `:nth-of-type(${same.indexOf(el) + 1})` : s;
}

/** `main>section.buy>button.add`: from below <body> down to the element. */
export function selectorPath(el: Element): string {
  const steps: string[] = [];
  for (let n: Element | null = el; n && n != document.body && steps.length < MAX_SELECTOR_STEPS; n = n.parentElement) {
    steps.unshift(step(n));
  }
  while (steps.join('>').length > MAX_SELECTOR) steps.shift();
  return steps.join('>');
}

const fraction = (v: number, size: number) => (size > 0 ? Math.round(Math.min(1, Math.max(0, v / size)) * 1000) / 1000 : 0.5);
const pagePx = (v: number) => Math.round(Math.min(MAX_PAGE_COORD, Math.max(0, v)));

/** Recent clicks (event time, x, y in the window) within the last second: the rage click's count. */
let recent: number[][] = [];

export function clickData(e: MouseEvent): ClickData | undefined {
  const t = e.target;
  // Only the visitor's own clicks (a page script's element.click() is not behaviour).
  if (!e.isTrusted || !(t instanceof Element) || t.closest('[data-no-track]') || (t as HTMLElement).isContentEditable) return;
  const el = t.closest(TARGET) || t;
  // What the click names (selector, x and y): in a control, the innermost element with a class from where it landed
  // up to the control (the icon in a link); elsewhere `el` itself.
  let leaf = el.matches(CONTROL) ? t : el;
  while (leaf != el && !leaf.classList.length) leaf = leaf.parentElement!;
  const r = leaf.getBoundingClientRect();
  // A keyboard-activated click (detail 0) has no pointer position: use the element's centre.
  const cx = e.detail ? e.clientX : r.left + r.width / 2;
  const cy = e.detail ? e.clientY : r.top + r.height / 2;
  // Labels come from data-track only: one attribute a shop sets on purpose, never one a widget fills in.
  const labelled = t.closest('[data-track]');
  const label = labelled?.getAttribute('data-track');
  // The block: the tile the click is in (data-track-item; the click event says which: items.ts), else the labelled one.
  const block = t.closest('[data-track-item]') || labelled;
  const c: ClickData = {
    selector: selectorPath(leaf),
    x: fraction(cx - r.left, r.width),
    y: fraction(cy - r.top, r.height),
    page_x: pagePx(cx + scrollX),
    page_y: pagePx(cy + scrollY),
    doc_w: document.documentElement.clientWidth,
  };
  if (label) c.label = label.slice(0, MAX_LABEL);
  if (block) {
    const b = block.getBoundingClientRect();
    c.block_x = fraction(cx - b.left, b.width);
    c.block_y = fraction(cy - b.top, b.height);
  }
  // A rage click: the third of three clicks within a second within 30 px of this one; a fourth in the burst is not.
  const now = e.timeStamp;
  recent = recent.filter((r) => now - r[0]! < 1000);
  recent.push([now, cx, cy]);
  if (recent.filter((r) => Math.hypot(r[1]! - cx, r[2]! - cy) <= 30).length == 3) c.rage = true;
  return c;
}
