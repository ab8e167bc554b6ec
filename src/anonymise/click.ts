/**
 * Clicks (docs/design.md §3.6): a selector path built only from tag names, ids
 * and classes that are design tokens (src/anonymise/vocabulary.ts) or that
 * the site allows by name, and never look like personal data or random
 * tokens, plus the developer-set label under the same rule. No text, no
 * attribute values. Element fractions are rounded to 0.01 and page positions
 * bucketed to 10 px.
 */
import type { ClickData } from '../wire/types.js';
import { MAX_LABEL, MAX_PAGE_COORD, MAX_SELECTOR } from '../wire/limits.js';
import { scrubValue } from './pii.js';
import { designToken } from './vocabulary.js';
import { LRUCache } from 'lru-cache';

const MAX_STEPS = 12;
/** Longest selector path kept (input is cut to the wire's MAX_SELECTOR first). */
const MAX_STORED_SELECTOR = 256;
const MAX_NAME = 32;
const TAG = /^[a-zA-Z][a-zA-Z0-9-]{0,31}/;
const NAME_TOKEN = /([#.])(-?[A-Za-z_][A-Za-z0-9_-]*)/g;
const LABEL = /^[a-z0-9_-]+$/;

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
  if (!allow.has(name) && (generatedName(name) || !designToken(name))) return false;
  return scrubValue(name, MAX_NAME) === name;
}

/**
 * Attribute selectors ([value="…"]), pseudo-class arguments (:not(…),
 * :contains("…")) and quoted strings carry attribute values or text: their
 * content is dropped whole, in one linear pass.
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
const selectorCaches = new WeakMap<ReadonlySet<string>, LRUCache<string, string>>();
const NONE: ReadonlySet<string> = new Set();
/** The site's allowlists as sets, once per list (the config is frozen and lives as long as the process). */
const allowSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function allowSet(list: readonly string[] | undefined): ReadonlySet<string> {
  if (!list || list.length === 0) return NONE;
  let s = allowSets.get(list);
  if (!s) allowSets.set(list, (s = new Set(list)));
  return s;
}

export function sanitiseSelector(raw: string, allowed?: readonly string[]): string {
  const allow = allowSet(allowed);
  let cache = selectorCaches.get(allow);
  if (!cache) selectorCaches.set(allow, (cache = new LRUCache<string, string>({ max: 5000 })));
  const input = raw.slice(0, MAX_SELECTOR);
  let sel = cache.get(input);
  if (sel === undefined) {
    sel = sanitiseSelectorUncached(input, allow);
    cache.set(input, sel);
  }
  return sel;
}

function sanitiseSelectorUncached(raw: string, allow: ReadonlySet<string>): string {
  // Every combinator (child, descendant, sibling) becomes '>': the path is for grouping clicks, not for querying.
  const steps = withoutBracketed(raw.slice(0, MAX_SELECTOR)).split(/[>+~\s]+/);
  const out: string[] = [];
  for (const step of steps.slice(-MAX_STEPS)) {
    const tag = TAG.exec(step)?.[0]?.toLowerCase() ?? '';
    let s = tag;
    if (!suspiciousStep(step)) for (const m of step.matchAll(NAME_TOKEN)) if (safeName(m[2]!, allow)) s += m[1]! + m[2]!;
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
}

const finite = (v: number) => (Number.isFinite(v) ? v : 0);

/** The site's click allowlists (SITES `selectors`, `labels`). */
export interface ClickRules {
  selectors?: readonly string[];
  labels?: readonly string[];
}

export function sanitiseClick(c: ClickData, rules: ClickRules = {}): CleanClick {
  return {
    selector: sanitiseSelector(c.selector, rules.selectors),
    label: sanitiseLabel(c.label, rules.labels),
    x: Math.round(clamp(finite(c.x), 0, 1) * 100) / 100,
    y: Math.round(clamp(finite(c.y), 0, 1) * 100) / 100,
    page_x: Math.floor(clamp(finite(c.page_x), 0, MAX_PAGE_COORD) / 10) * 10,
    page_y: Math.floor(clamp(finite(c.page_y), 0, MAX_PAGE_COORD) / 10) * 10,
  };
}
