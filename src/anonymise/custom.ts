/**
 * Custom events: a safe name, and props limited in number and length, with
 * identifier-like keys (user id, email, order id, session, …) dropped and
 * values scrubbed like URL segments.
 *
 * Keys are split into words (snake_case, kebab-case, dotted, camelCase) so
 * "contactEmail", "customer.email" and "ORDER_NO" are recognised as well as
 * "email"; a key that is not a plain name is dropped too, since a key can
 * carry personal data as easily as a value.
 */
import type { CustomData } from '../collect/wire-types.js';
import { scrubValue } from './url.js';

const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
export const MAX_PROPS = 20;
export const MAX_PROP_VALUE = 128;

/** Words that make a key an identifier, wherever they appear in it. */
const IDENTIFYING_WORDS = new Set([
  'id', 'ids', 'uid', 'uuid', 'guid', 'email', 'emails', 'mail', 'phone', 'tel', 'mobile', 'msisdn', 'token', 'session', 'sid',
  'password', 'passwd', 'iban', 'ssn', 'dob', 'birthday', 'birthdate', 'ip', 'username', 'login', 'firstname', 'lastname',
  'fullname', 'surname', 'address', 'street', 'zip', 'zipcode', 'postcode', 'postal', 'card', 'cardnumber', 'cvv', 'cvc',
  'userid', 'customerid', 'orderid', 'sessionid', 'clientid', 'memberid', 'accountid', 'transactionid', 'txid', 'ordernumber',
  'fingerprint', 'cookie', 'deviceid', 'imei', 'idfa', 'gaid',
]);
/** Words that name a person or a record: identifying alone ("user") or with a number-ish word ("order_no"). */
const SUBJECT_WORDS = new Set(['user', 'customer', 'order', 'client', 'member', 'account', 'visitor', 'person', 'contact', 'name', 'transaction', 'invoice']);
const NUMBER_WORDS = new Set(['no', 'nr', 'num', 'number', 'ref', 'reference', 'key', 'code', 'hash']);

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
  if (IDENTIFYING_WORDS.has(words.join(''))) return true;
  if (words.length === 1 && SUBJECT_WORDS.has(words[0]!)) return true;
  for (const w of words) if (IDENTIFYING_WORDS.has(w)) return true;
  for (let i = 0; i + 1 < words.length; i++) if (SUBJECT_WORDS.has(words[i]!) && NUMBER_WORDS.has(words[i + 1]!)) return true;
  return false;
}

export function sanitiseCustom(c: CustomData): { name: string; props: Record<string, string> } | null {
  const name = c.name.slice(0, 64).toLowerCase();
  // A name is a developer's constant; one that carries a number, an address or a token is not.
  if (!NAME.test(name) || scrubValue(name, 64) !== name) return null;
  const props: Record<string, string> = {};
  let n = 0;
  for (const k of Object.keys(c.props ?? {})) {
    if (n >= MAX_PROPS) break;
    if (!KEY.test(k) || identifyingKey(k) || scrubValue(k, 64) !== k) continue;
    props[k] = scrubValue(String(c.props![k]), MAX_PROP_VALUE);
    n++;
  }
  return { name, props };
}
