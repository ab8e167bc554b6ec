/**
 * Custom events: a safe name, and props limited in number and length, with
 * identifier-like keys (user id, email, order id, session, …) dropped and
 * values scrubbed like URL segments.
 */
import type { CustomData } from '../collect/wire-types.js';
import { scrubValue } from './url.js';

const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;
const MAX_PROPS = 20;
const IDENTIFYING = new Set([
  'userid', 'user', 'username', 'uid', 'email', 'emailaddress', 'mail', 'phone', 'phonenumber', 'tel', 'mobile', 'orderid',
  'order', 'ordernumber', 'session', 'sessionid', 'sid', 'token', 'customerid', 'customer', 'name', 'firstname', 'lastname',
  'fullname', 'address', 'street', 'zip', 'postcode', 'ip', 'ipaddress', 'password', 'iban', 'card', 'cardnumber', 'dob', 'birthday',
]);
const ID_PART = /(^|[_.-])(id|email|phone|token|session|uuid|guid)($|[_.-])/i;

export function identifyingKey(key: string): boolean {
  return IDENTIFYING.has(key.toLowerCase().replace(/[_.-]/g, '')) || ID_PART.test(key) || /Id$/.test(key);
}

export function sanitiseCustom(c: CustomData): { name: string; props: Record<string, string> } | null {
  const name = c.name.slice(0, 64).toLowerCase();
  if (!NAME.test(name)) return null;
  const props: Record<string, string> = {};
  let n = 0;
  for (const k in c.props ?? {}) {
    if (n >= MAX_PROPS) break;
    if (identifyingKey(k)) continue;
    props[k.slice(0, 64)] = scrubValue(String(c.props![k]), 128);
    n++;
  }
  return { name, props };
}
