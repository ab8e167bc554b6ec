/**
 * Clicks (docs/design.md §3.6): a selector path built only from tag names, ids
 * and classes that are design tokens (src/anonymise/vocabulary.ts) or that
 * the site allows by name, and never look like personal data, random tokens
 * or a passing state (`active`, `show`, `owl-loaded`), plus the developer-set
 * label under the same rule. Two things tell like elements apart and are
 * kept: a sibling position (`:nth-of-type(n)`, the tiles of a grid) and a
 * form control's `[name=…]` when the name passes the label rule. No text, no
 * other attribute values. Element fractions are rounded to 0.01, page
 * positions bucketed to 10 px and measured from the document's centre line
 * (see sanitiseClick).
 */
import type { ClickData } from '../wire/types.js';
import { MAX_LABEL, MAX_PAGE_COORD, MAX_SELECTOR, MAX_SELECTOR_STEPS } from '../wire/limits.js';
import { scrubValue } from './pii.js';
import { designToken, nameWords, stateName } from './vocabulary.js';
import { LRUCache } from 'lru-cache';

const MAX_STEPS = MAX_SELECTOR_STEPS;
/** Sibling positions kept: a grid or list longer than this is not told apart by position. */
const MAX_POSITION = 999;
/** Longest selector path kept (input is cut to the wire's MAX_SELECTOR first). */
const MAX_STORED_SELECTOR = 256;
const MAX_NAME = 32;
const TAG = /^[a-zA-Z][a-zA-Z0-9-]{0,31}/;
const NAME_TOKEN = /([#.])(-?[A-Za-z_][A-Za-z0-9_-]*)/g;
const LABEL = /^[a-z0-9_-]+$/;
/** The two bracketed forms a step may keep (src/tracker/script/click.ts writes them): read at one position, linear. */
const NAME_ATTR = /\[name=([A-Za-z_][\w-]{0,31})\]/y;
const POSITION_ARG = /\((\d{1,4})\)/y;
const POSITION = ':nth-of-type';

/**
 * Generated ids are short as well as long: "user-8f3a9c2e1b", "u_9f8e7d6c5b4a", "row-12-34-56", "u_k3j9x2abq8"
 * name one user or one record, so they must not reach a column that groups clicks. Read with the separators
 * (- and _) removed, a name is such an id when it holds
 * - a run of 8+ hex characters with a digit among them (a hash or id fragment; words spelt with a–f alone,
 *   like "facade", have no digit),
 * - 4+ digits in a row, or 6+ once the separators are gone (a number: "row-12-34-56"),
 * - or a part of 10+ letters and digits with 3+ digits (a random base-36/62 id; build hashes such as
 *   emotion's "css-1x2y3z" are shorter and are kept).
 * Ordinary names ("btn-primary", "col-12", "grid-cols-3", "product-card") have none of these.
 * One pass over at most MAX_NAME characters.
 */
export function generatedName(name: string): boolean {
  let hexRun = 0;
  let hexRunDigit = false;
  let digitRun = 0;
  let joinedDigitRun = 0;
  let partLen = 0;
  let partDigits = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i < name.length ? name.charCodeAt(i) : 45; // a trailing '-' ends the last part
    if (c === 45 || c === 95) {
      // - or _: ends a part (and a digit run, as written) but not a hex run: "8f3a-9c2e-1b" is one id.
      if (partLen >= 10 && partDigits >= 3) return true;
      partLen = partDigits = digitRun = 0;
      continue;
    }
    const digit = c >= 48 && c <= 57;
    const hex = digit || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
    partLen++;
    if (digit) {
      partDigits++;
      if (++digitRun >= 4 || ++joinedDigitRun >= 6) return true;
    } else digitRun = joinedDigitRun = 0;
    if (hex) {
      hexRun++;
      if (digit) hexRunDigit = true;
      if (hexRun >= 8 && hexRunDigit) return true;
    } else {
      hexRun = 0;
      hexRunDigit = false;
    }
  }
  return false;
}

/**
 * An id or class that names a piece of the page: a design token or a name the
 * site allows, carrying no personal data and no generated token.
 * ("user-zelda-quixote" is none of these: a template put a person in it.)
 */
function safeName(name: string, allow: ReadonlySet<string>): boolean {
  if (name.length > MAX_NAME) return false;
  if (!allow.has(name) && (generatedName(name) || randomWord(name) || !designToken(name))) return false;
  return scrubValue(name, MAX_NAME) === name;
}

/**
 * A word of a name (camelCase and separators split) that mixes letters and
 * digits, 3 or more characters, and is not a number with a unit: the short
 * random suffix of a generated id (`MixItUpEBD3A9`, `tab-x7y`, `panel-a1b`).
 */
export function randomWord(name: string): boolean {
  for (const w of nameWords(name)) {
    if (w.length >= 3 && /\d/.test(w) && /[a-z]/.test(w) && !/^\d{1,3}(?:x|xs|xl|px|vh|vw|em|rem|k|w)$/.test(w)) return true;
  }
  return false;
}

/**
 * An id with a number in it: ids are one per element, and numbered ones are
 * the counters of widget libraries and frameworks (`ui-id-17`, `mat-input-3`,
 * `slide-12`) that differ from one page load to the next.
 */
const numberedId = (id: string) => /\d/.test(id);

/**
 * Attribute selectors ([value="…"]), pseudo-class arguments (:not(…),
 * :contains("…")) and quoted strings carry attribute values or text: their
 * content is dropped whole, in one linear pass. Kept: `[name=<identifier>]`
 * and the number of `:nth-of-type(<n>)`, which the step rules below judge.
 */
function withoutBracketed(s: string): string {
  let out = '';
  let depth = 0;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = '';
      continue;
    }
    if (depth === 0 && (ch === '[' || ch === '(')) {
      const kept = ch === '[' ? NAME_ATTR : out.endsWith(POSITION) ? POSITION_ARG : undefined;
      if (kept) {
        kept.lastIndex = i;
        const m = kept.exec(s);
        if (m) {
          out += m[0];
          i += m[0].length - 1;
          continue;
        }
      }
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') depth = depth > 0 ? depth - 1 : 0;
    else if (depth === 0) out += ch;
  }
  return out;
}

/** A step whose text still looks like personal data ("#jane.doe@example.com"), or uses escapes, keeps its tag only. */
function suspiciousStep(step: string): boolean {
  return /[\\@%]/.test(step) || scrubValue(step, 512).startsWith(':');
}

/**
 * Sanitised selectors by raw selector. The same page structure is clicked by
 * every visitor, so most selectors repeat and sanitising them (a dozen regex
 * passes) is the costliest step of a click. Bounded, in this process's memory
 * only, like the UA cache; the function stays pure (same input, same output).
 */
const selectorCaches = new WeakMap<ReadonlySet<string>, WeakMap<ReadonlySet<string>, LRUCache<string, string>>>();
const NONE: ReadonlySet<string> = new Set();
/** The site's allowlists as sets, once per list (the config is frozen and lives as long as the process). */
const allowSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function allowSet(list: readonly string[] | undefined): ReadonlySet<string> {
  if (!list || list.length === 0) return NONE;
  let s = allowSets.get(list);
  if (!s) allowSets.set(list, (s = new Set(list)));
  return s;
}

/**
 * `allowed`: the site's `selectors` (ids and classes kept by name); `labels`:
 * the site's `labels`, which also allow form-control names (a name is kept
 * under the label rule).
 */
export function sanitiseSelector(raw: string, allowed?: readonly string[], labels?: readonly string[]): string {
  const allow = allowSet(allowed);
  const names = allowSet(labels);
  let byNames = selectorCaches.get(allow);
  if (!byNames) selectorCaches.set(allow, (byNames = new WeakMap()));
  let cache = byNames.get(names);
  if (!cache) byNames.set(names, (cache = new LRUCache<string, string>({ max: 5000 })));
  const input = raw.slice(0, MAX_SELECTOR);
  let sel = cache.get(input);
  if (sel === undefined) {
    sel = sanitiseSelectorUncached(input, allow, labels);
    cache.set(input, sel);
  }
  return sel;
}

function sanitiseSelectorUncached(raw: string, allow: ReadonlySet<string>, labels: readonly string[] | undefined): string {
  // Every combinator (child, descendant, sibling) becomes '>': the path is for grouping clicks, not for querying.
  const steps = withoutBracketed(raw.slice(0, MAX_SELECTOR)).split(/[>+~\s]+/);
  const out: string[] = [];
  for (const raw of steps.slice(-MAX_STEPS)) {
    let name = '';
    let position = 0;
    const step = raw
      .replace(/\[name=([\w-]+)\]/g, (_, n: string) => ((name ||= n), ''))
      .replace(/:nth-of-type\((\d+)\)/g, (_, n: string) => ((position ||= +n), ''));
    const tag = TAG.exec(step)?.[0]?.toLowerCase() ?? '';
    let s = tag;
    if (!suspiciousStep(step)) {
      for (const m of step.matchAll(NAME_TOKEN)) {
        const id = m[1] === '#';
        const token = m[2]!;
        if (!safeName(token, allow) || (!allow.has(token) && (id ? numberedId(token) : stateName(token)))) continue;
        s += m[1]! + token;
      }
    }
    // A form control's name: kept as a label would be (it says which field, like `email`, never what was typed).
    if (tag && name && sanitiseLabel(name, labels) !== '') s += `[name=${name}]`;
    if (tag && position >= 1 && position <= MAX_POSITION) s += `${POSITION}(${position})`;
    if (s !== '') out.push(s);
  }
  let sel = out.join('>');
  while (sel.length > MAX_STORED_SELECTOR && out.length > 1) {
    out.shift();
    sel = out.join('>');
  }
  return sel.slice(0, MAX_STORED_SELECTOR);
}

/**
 * A data-track label: a lowercase slug `[a-z0-9_-]` that is a design token
 * ("add-to-cart", "nav-home") or allowed by the site by name; anything else
 * ("zelda-quixote", a product name with spaces) is dropped.
 */
export function sanitiseLabel(raw: string | undefined, allowed?: readonly string[]): string {
  if (!raw) return '';
  const l = raw.slice(0, MAX_LABEL).toLowerCase();
  if (!LABEL.test(l) || scrubValue(l, MAX_LABEL) !== l) return '';
  return allowSet(allowed).has(l) || (designToken(l) && !generatedName(l)) ? l : '';
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

export interface CleanClick {
  selector: string;
  label: string;
  x: number;
  y: number;
  page_x: number;
  page_y: number;
  /** Where in its block (the data-track-item tile, else the data-track element) the click landed; 0 when in none. */
  block_x: number;
  block_y: number;
  rage: number;
  dead: number;
}

const finite = (v: number) => (Number.isFinite(v) ? v : 0);
const fraction = (v: number | undefined) => Math.round(clamp(finite(v ?? 0), 0, 1) * 100) / 100;
const tenPx = (v: number) => Math.floor(clamp(finite(v), 0, MAX_PAGE_COORD) / 10) * 10;

/** The site's click allowlists (SITES `selectors`, `labels`). */
export interface ClickRules {
  selectors?: readonly string[];
  labels?: readonly string[];
}

/** The width the page was laid out at: the width bucket stored with the click (viewport.ts), and the window width sent. */
export interface ClickLayout {
  bucketWidth: number;
  viewportWidth?: number | undefined;
}

/**
 * `layout`: page x is stored as measured from the document's centre line and
 * placed on a document of the width bucket's width, `page_x − doc_w/2 +
 * bucket/2`: shop content sits in a container centred in the window, so a
 * button at 1440 px and at 1535 px (one bucket) gets one position, and the
 * same button at 1280, 1440 and 1920 px the same offset from the centre
 * (the heatmap views use that offset). The document width itself is not
 * stored (with page x it would give the window's exact width). Without a
 * document width (older trackers) the window width stands in; without a
 * bucket, page x is kept as sent.
 */
export function sanitiseClick(c: ClickData, rules: ClickRules = {}, layout?: ClickLayout): CleanClick {
  const selector = sanitiseSelector(c.selector, rules.selectors, rules.labels);
  const docW = finite(c.doc_w ?? layout?.viewportWidth ?? 0);
  const bucket = layout?.bucketWidth ?? 0;
  const pageX = bucket > 0 && docW > 0 ? finite(c.page_x) - docW / 2 + bucket / 2 : c.page_x;
  return {
    selector,
    label: sanitiseLabel(c.label, rules.labels),
    x: fraction(c.x),
    y: fraction(c.y),
    page_x: tenPx(pageX),
    page_y: tenPx(c.page_y),
    block_x: fraction(c.block_x),
    block_y: fraction(c.block_y),
    rage: c.rage === true ? 1 : 0,
    dead: c.dead === true ? 1 : 0,
  };
}
