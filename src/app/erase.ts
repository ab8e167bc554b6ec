/**
 * `npm run erase -- --site S --ip A --ua U`: a data-subject request answered
 * while it still can be (docs/privacy.md, "Deletion").
 *
 * For at most 48 h after a visit, the day's salt is in Redis, and the
 * workers' secret (derived from their private sealing key) together with it
 * turns the visitor's address and user agent back into that day's visitor id
 * (src/anonymise/ids.ts, salts.ts). Within that window this deletes the
 * visitor-day's rows from every table holding the daily visitor hash, for
 * today and yesterday (UTC), the only days whose salt exists. After it,
 * nobody can compute the id any more, and the rows are anonymous.
 *
 * The address is tried in the forms a collector may have seen it in (an IPv4
 * address also as IPv4-mapped IPv6, as a dual-stack socket reports it; an
 * IPv6 address in its canonical lowercase form). A salt is only read, never
 * created. Nothing it prints names the address or the user agent.
 */
import { dayIdKey, dayKey } from '../anonymise/salts.js';
import { visitorId } from '../anonymise/ids.js';
import type { Redis } from '../queue/redis.js';
import { readSalt } from '../queue/salt-store.js';
import type { ClickHouseClient } from '../store/client.js';
import { deleteVisitorDay, type ErasedTable } from '../store/erase.js';
import { parseStrictIp } from '../wire/ip.js';
import type { IPv6 } from 'ipaddr.js';

const DAY_MS = 86_400_000;

export interface EraseRequest {
  site: string;
  ip: string;
  ua: string;
}

export interface ErasedDay {
  day: string;
  /** False when the day's salt is gone (or never existed): its ids cannot be computed, its rows are anonymous. */
  saltLive: boolean;
  tables: ErasedTable[];
}

export class EraseInputError extends Error {
  override readonly name = 'EraseInputError';
}

/** The address as the collector may have passed it on (it passes on only canonical forms, src/wire/ip.ts). */
export function addressForms(ip: string): string[] {
  const given = ip.trim();
  const parsed = parseStrictIp(given);
  if (!parsed) throw new EraseInputError('--ip must be a canonical IPv4 or IPv6 address');
  const forms = new Set([given]);
  if (parsed.kind() === 'ipv4') forms.add(`::ffff:${given}`);
  else {
    const v6 = parsed as IPv6;
    forms.add(v6.toString());
    if (v6.isIPv4MappedAddress()) {
      const v4 = v6.toIPv4Address().toString();
      forms.add(v4).add(`::ffff:${v4}`);
    }
  }
  return [...forms];
}

export async function eraseVisitor(
  deps: { client: ClickHouseClient; redis: Redis; prefix: string; workerSecret: Buffer; now?: () => number },
  req: EraseRequest,
): Promise<ErasedDay[]> {
  if (!req.site || !req.ua) throw new EraseInputError('--site and --ua are required');
  const forms = addressForms(req.ip);
  const now = (deps.now ?? Date.now)();
  const out: ErasedDay[] = [];
  for (const at of [now, now - DAY_MS]) {
    const day = dayKey(at);
    const salt = await readSalt(deps.redis, deps.prefix, day);
    if (!salt) {
      out.push({ day, saltLive: false, tables: [] });
      continue;
    }
    const key = dayIdKey(salt, deps.workerSecret);
    const byTable = new Map<string, number>();
    // The user agent as the collector kept it: its first 512 characters.
    for (const ip of forms) {
      for (const t of await deleteVisitorDay(deps.client, { site: req.site, day, visitorId: visitorId(key, req.site, ip, req.ua.slice(0, 512)) })) {
        byTable.set(t.table, (byTable.get(t.table) ?? 0) + t.rows);
      }
    }
    out.push({ day, saltLive: true, tables: [...byTable].map(([table, rows]) => ({ table, rows })) });
  }
  return out;
}
