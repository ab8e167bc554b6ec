/**
 * What a click is allowed to say (docs/design.md §3.6): where it landed on which
 * kind of element, and the label a developer put on it (data-track). Never
 * text, never a value, never an attribute other than id, class and
 * data-track; nothing at all inside [data-no-track] or editable content.
 */
import { MAX_LABEL, MAX_PAGE_COORD, MAX_SELECTOR } from '../../wire/limits.js';
import type { ClickData } from '../../wire/types.js';

/** The element a click "means": the nearest control or labelled ancestor. */
const TARGET = 'a,button,input,select,textarea,label,summary,[role=button],[data-track]';
/** ids and classes that are plain CSS identifiers; the worker further drops ones that look personal or generated. */
const NAME = /^-?[A-Za-z_][\w-]{0,31}$/;
const MAX_STEPS = 12;

function step(el: Element): string {
  let s = el.localName;
  if (NAME.test(el.id)) s += '#' + el.id;
  Array.from(el.classList)
    .slice(0, 3)
    .forEach((c) => NAME.test(c) && (s += '.' + c));
  return s;
}

/** `main>section.buy>button.add`: from below <body> down to the element. */
export function selectorPath(el: Element): string {
  const steps: string[] = [];
  for (let n: Element | null = el; n && n !== document.body && n !== document.documentElement && steps.length < MAX_STEPS; n = n.parentElement) {
    steps.unshift(step(n));
  }
  while (steps.join('>').length > MAX_SELECTOR) steps.shift();
  return steps.join('>');
}

const fraction = (v: number, size: number) => (size > 0 ? Math.round(Math.min(1, Math.max(0, v / size)) * 1000) / 1000 : 0.5);
const pagePx = (v: number) => Math.round(Math.min(MAX_PAGE_COORD, Math.max(0, v)));

export function clickData(e: MouseEvent): ClickData | undefined {
  const t = e.target;
  // Only the visitor's own clicks (a page script's element.click() is not behaviour).
  if (!e.isTrusted || !(t instanceof Element) || t.closest('[data-no-track]') || (t as HTMLElement).isContentEditable) return;
  const el = t.closest(TARGET) || t;
  const r = el.getBoundingClientRect();
  // A keyboard-activated click (detail 0) has no pointer position: use the element's centre.
  const cx = e.detail ? e.clientX : r.left + r.width / 2;
  const cy = e.detail ? e.clientY : r.top + r.height / 2;
  // Labels come from data-track only: one attribute a shop sets on purpose, never one a widget fills in.
  const label = t.closest('[data-track]')?.getAttribute('data-track');
  const c: ClickData = {
    selector: selectorPath(el),
    x: fraction(cx - r.left, r.width),
    y: fraction(cy - r.top, r.height),
    page_x: pagePx(cx + scrollX),
    page_y: pagePx(cy + scrollY),
  };
  if (label) c.label = label.slice(0, MAX_LABEL);
  return c;
}
