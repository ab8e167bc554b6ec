/**
 * Custom events: a safe name, and props limited in number and length, with
 * keys that identify a person or their transaction dropped and values
 * scrubbed like URL segments.
 *
 * Keys are split into words (snake_case, kebab-case, dotted, camelCase) so
 * "contactEmail", "customer.email" and "ORDER_NO" are recognised as well as
 * "email"; a key that is not a plain name is dropped too, since a key can
 * carry personal data as easily as a value.
 *
 * Which keys go (decided here, not in DESIGN): the shop needs the ids of the
 * things on its pages (product_id, sku, item_id, category_id) to decide where
 * they go, and those name no one. A key is dropped when
 * - it holds a personal attribute anywhere ("email", "phone", "ip", "address", "token", "first_name", …);
 * - it is about a person or their transaction ("user", "customer", "session", "order", "payment", "card", …)
 *   and is that subject alone or its id, number, reference, code or name ("order_id", "customerName",
 *   "card_number"); a plain measure of it stays ("order_total", "payment_type", "session_duration");
 * - it is an id, number or reference of anything else than a known page object ("id", "uuid", "ref",
 *   "guest_id", "lead_no"): what an unknown id names cannot be told, so it goes.
 */
import type { CustomData, CustomPropValue } from '../wire/types.js';
import { MAX_PROP_NUMBER, MAX_PROP_VALUE, MAX_PROPS } from '../wire/limits.js';
import { PLACEHOLDERS, scrubValue, slugOrPlaceholder } from './pii.js';
import type { PropRule, ValueDropReason } from './types.js';

const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Personal attributes: a key holding one of these words, or two neighbouring words spelling one ("e_mail", "billing_first_name"), is dropped. */
const PERSONAL_WORDS = new Set([
  'email', 'emails', 'mail', 'phone', 'tel', 'mobile', 'msisdn', 'fax', 'token', 'sid', 'password', 'passwd', 'iban', 'ssn', 'dob',
  'birthday', 'birthdate', 'ip', 'username', 'login', 'firstname', 'lastname', 'middlename', 'fullname', 'surname', 'givenname',
  'familyname', 'nickname', 'displayname', 'screenname', 'realname', 'address', 'street', 'zip', 'zipcode', 'postcode', 'postal',
  'cardnumber', 'cvv', 'cvc', 'fingerprint', 'cookie', 'imei', 'idfa', 'gaid', 'userid', 'customerid', 'orderid', 'sessionid', 'clientid',
  'memberid', 'accountid', 'visitorid', 'deviceid', 'transactionid', 'txid', 'ordernumber', 'invoiceid', 'paymentid', 'recipient',
  'recipients', 'sender', 'addressee', 'signature',
]);
/** A person, or a record of what they did: identifying alone ("user") or with an identifier word ("order_no", "customer_name"). */
const SUBJECT_WORDS = new Set([
  'user', 'users', 'customer', 'customers', 'member', 'account', 'session', 'visitor', 'client', 'person', 'contact', 'guest', 'buyer',
  'shopper', 'profile', 'order', 'orders', 'transaction', 'invoice', 'payment', 'card', 'receipt', 'subscription', 'booking',
]);
/** What makes a key an identifier of its subject. */
const ID_WORDS = new Set(['id', 'ids', 'uid', 'uuid', 'guid', 'no', 'nr', 'num', 'number', 'ref', 'reference', 'key', 'hash']);
/** Identifiers only of a person or transaction ("customer_name", "order_code"); of a product they are fine ("product_name"). */
const SUBJECT_ID_WORDS = new Set([...ID_WORDS, 'code', 'name', 'names']);
/** Things on a shop's pages, whose ids are layout data, not personal data. */
const OBJECT_WORDS = new Set([
  'product', 'products', 'sku', 'item', 'items', 'category', 'categories', 'variant', 'collection', 'brand', 'catalog', 'offer', 'bundle',
  'page', 'section', 'list', 'slot', 'banner', 'widget', 'component', 'block', 'layout', 'promo', 'promotion', 'campaign', 'experiment',
  'variation', 'step', 'position', 'article', 'listing', 'model', 'version',
]);

export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function identifyingKey(key: string): boolean {
  const words = keyWords(key);
  if (words.length === 0) return true;
  if (PERSONAL_WORDS.has(words.join(''))) return true;
  for (let i = 0; i < words.length; i++) if (PERSONAL_WORDS.has(words[i]!) || PERSONAL_WORDS.has(words[i]! + (words[i + 1] ?? ''))) return true;
  if (words.length === 1 && (words[0] === 'name' || words[0] === 'names')) return true;
  if (words.some((w) => SUBJECT_WORDS.has(w)) && (words.length === 1 || words.some((w) => SUBJECT_ID_WORDS.has(w)))) return true;
  // An id of anything but a known page object ("guest_id", "ref", "uuid") could name anyone.
  for (let i = 0; i < words.length; i++) if (ID_WORDS.has(words[i]!) && !(i > 0 && OBJECT_WORDS.has(words[i - 1]!))) return true;
  return false;
}

/**
 * A prop value under its key's rule (SITES `props`), as stored (text), or the reason it is dropped:
 * - 'number': a finite number within ±MAX_PROP_NUMBER (a numeric string is not a number);
 * - 'boolean': true or false;
 * - 'slug': a string in the slug alphabet (lowercased), untouched by the detector;
 * - a list: one of its values, exactly;
 * - no rule: numbers, booleans and slugs; free text (names, addresses, messages) never.
 */
export function propValue(v: CustomPropValue, rule: PropRule | undefined): { value: string } | { drop: ValueDropReason } {
  if (Array.isArray(rule)) return typeof v === 'string' && rule.includes(v) ? { value: v } : { drop: 'prop_rule' };
  if (typeof v === 'number') {
    if (rule !== undefined && rule !== 'number') return { drop: 'prop_rule' };
    return Number.isFinite(v) && Math.abs(v) <= MAX_PROP_NUMBER ? { value: String(v) } : { drop: 'prop_rule' };
  }
  if (typeof v === 'boolean') return rule === undefined || rule === 'boolean' ? { value: String(v) } : { drop: 'prop_rule' };
  if (typeof v !== 'string' || (rule !== undefined && rule !== 'slug')) return { drop: 'prop_rule' };
  const clean = slugOrPlaceholder(v.slice(0, MAX_PROP_VALUE), { lower: true, cap: MAX_PROP_VALUE });
  return clean === '' || PLACEHOLDERS.has(clean) ? { drop: 'prop_free_text' } : { value: clean };
}

export interface CleanCustom {
  name: string;
  props: Record<string, string>;
  /** Prop values dropped, by reason (the event is kept). */
  dropped: Partial<Record<ValueDropReason, number>>;
}

export function sanitiseCustom(c: CustomData, rules: Readonly<Record<string, PropRule>> = {}): CleanCustom | null {
  const name = c.name.slice(0, 64).toLowerCase();
  // A name is a developer's constant; one that carries a number, an address or a token is not.
  if (!NAME.test(name) || scrubValue(name, 64) !== name) return null;
  const props: Record<string, string> = {};
  const dropped: CleanCustom['dropped'] = {};
  let n = 0;
  for (const k of Object.keys(c.props ?? {})) {
    if (n >= MAX_PROPS) break;
    if (!KEY.test(k) || identifyingKey(k) || scrubValue(k, 64) !== k) continue;
    const v = propValue(c.props![k]!, Object.hasOwn(rules, k) ? rules[k] : undefined);
    if ('drop' in v) {
      dropped[v.drop] = (dropped[v.drop] ?? 0) + 1;
      continue;
    }
    props[k] = v.value;
    n++;
  }
  return { name, props, dropped };
}
